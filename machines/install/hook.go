package install

// step is called at each point of Commit, Remove and Revert where a crash leaves a distinct state on
// disk. Tests replace it to kill the process at exactly that point; it does nothing otherwise.
var step = func(name string) {}

// The steps, in the order the package doc describes them.
const (
	stepCommitSynced    = "commit:synced"     // staged tree fsynced
	stepCommitIntent    = "commit:intent"     // intent written
	stepCommitSwapped   = "commit:swapped"    // renamed or exchanged into place
	stepCommitDirSynced = "commit:dir-synced" // machines directory fsynced
	stepCommitRecorded  = "commit:recorded"   // record written, old version still in staging
	stepRemoveIntent    = "remove:intent"     // intent written
	stepRemoveRenamed   = "remove:renamed"    // renamed out of the way
	stepRemoveRecorded  = "remove:recorded"   // record written, old tree not yet deleted
	stepRevertIntent    = "revert:intent"     // intent written
	stepRevertSwapped   = "revert:swapped"    // previous version exchanged into place
	stepRevertRecorded  = "revert:recorded"   // record written, reverted-from tree not yet deleted
)
