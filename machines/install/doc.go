// Package install swaps verified machines into a machines directory atomically, purges the
// ones mms installed, and keeps the on-disk record of what mms manages.
//
// A machines directory (for example /etc/choria/machines) holds one subdirectory per machine.
// mms keeps its own state in <machinesdir>/.mms/ (mode 0700): the lock file `lock`, held with an
// exclusive flock by the one Store that may change the directory, and the record `state.json`,
// always replaced atomically and fsynced. The record lists the machines mms installed (only
// those may be replaced or removed), the last specification accepted (for the rollback rule),
// and at most one unfinished operation per machine (an intent, see below).
//
// # Names mms creates
//
// Every directory mms creates beside the machines is dot-prefixed, so Choria's loader ignores it,
// and named exactly
//
//	.mms-stage-<name>-<16 lowercase hex>   a staging directory (Stage), later the old version
//	.mms-old-<name>-<16 lowercase hex>     a machine being removed (Remove)
//	.mms-prev-<name>                       the version CommitKeepingPrevious replaced, for Revert
//
// where <name> passes ValidName. Open removes stale directories with exactly these names (a
// .mms-prev-<name> when the record does not name its inode as the kept version) and nothing else: a hand-made `.mms-stage-x` (no random suffix), `.git`, `tmp` or any other
// dot directory is left alone.
//
// # Crash consistency
//
// Commit runs in this order; the comment on each step says what a crash (SIGKILL or power
// loss) just after it leaves, and what the next Open does:
//
//  1. make the staged tree durable with one syncfs(2) of the filesystem, which holds the
//     staging and machines directories too. Crash: <name> untouched, the staging directory
//     is removed by Open.
//  2. write the intent {install, inode of the staged tree's root, the new Managed} into
//     state.json (renameio, fsynced, then the .mms directory fsynced). Crash: as 1; Open sees
//     <name> does not carry that inode, drops the intent and keeps the old record entry.
//  3. swap: renameat2(RENAME_EXCHANGE) when <name> exists, so <name> always names a complete
//     tree; renameat2(RENAME_NOREPLACE) when it does not. Crash: <name> is the new tree, the
//     old one sits in the staging directory. Open sees the intent's inode at <name>, records
//     the new Managed, then removes the staging directory.
//  4. fsync the machines directory, so the swap survives power loss. Crash: as 3 (before the
//     fsync completes, a power loss may undo the swap; Open then sees the old inode, as in 2).
//  5. write the record: the new Managed in place of the intent (the file fsynced, the rename
//     not: if a power loss undoes it, the intent is back and Open resolves it as in 3). Crash:
//     as 3 without the intent to resolve.
//  6. remove the staging directory, which now holds the old version. Crash: Open removes it.
//
// Remove follows the same pattern: intent {remove, inode of <name>}; rename <name> to
// .mms-old-<name>-<random> (RENAME_NOREPLACE); fsync the machines directory; drop the record
// entry and the intent; delete the renamed tree. After a crash, Open drops the record entry
// unless <name> still carries the recorded inode (the rename never happened), and removes the
// .mms-old directory.
//
// Revert swaps .mms-prev-<name> back the same way: intent {install, inode of the kept tree};
// renameat2(RENAME_EXCHANGE); fsync; record the kept version as installed and forget it as
// previous; delete what is now in .mms-prev-<name>. A crash before the exchange leaves the
// version that was installed (and still the kept one); after it, the kept version, and Open
// deletes the tree reverted from, whose inode is not the one recorded as kept.
//
// So after any crash, and once Open has run, a machine recorded as managed is exactly the tree
// at <name>, complete, and no staging or old directory remains. The intent is what makes a
// crash between the swap and the record harmless: without it a fresh install would look
// hand-placed after the crash and be orphaned, and a removal could leave a record entry that
// later claims a machine placed by hand.
//
// # What is not protected
//
// Anyone who can write the machines directory can plant what they like; the Store only
// ensures that its own operations stay inside the directory (paths are single, validated
// components used through os.Root or a directory file descriptor), never follow a symlink
// planted at <name>, and never replace or remove a machine mms did not install.
package install
