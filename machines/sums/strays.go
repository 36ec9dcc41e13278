package sums

import (
	"fmt"
	"os"
	"path"
	"slices"
)

// Strays is what a verified machine directory holds beyond what its SHA256SUMS lists: what
// repair must take away, and why adoption must not take the directory over. (Modes no archive
// gives are VerifyTree's to refuse.)
type Strays struct {
	// Extra are paths of files (or links, devices, ...) SHA256SUMS does not list.
	Extra []string
}

// Empty tells whether there are no strays.
func (s Strays) Empty() bool { return len(s.Extra) == 0 }

// String lists the strays for a reason an operator reads.
func (s Strays) String() string {
	return fmt.Sprintf("files %s does not list: %s", FileName, quoteList(s.Extra))
}

// maxNamed bounds how many paths a reason names.
const maxNamed = 5

func quoteList(paths []string) string {
	var out string
	for i, p := range paths {
		if i == maxNamed {
			return out + fmt.Sprintf(" and %d more", len(paths)-maxNamed)
		}
		if i > 0 {
			out += ", "
		}
		out += p
	}
	return out
}

// FindStrays lists the entries of the machine directory root (with os.Root, so that no link
// leads it elsewhere) that verified, the cache VerifyTree returned, does not account for. A
// listed path is a regular file (VerifyTree checked it); only names are read here.
func FindStrays(root string, verified Cache) (Strays, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return Strays{}, err
	}
	defer r.Close()
	dirs := map[string]bool{".": true}
	for p := range verified {
		for d := path.Dir(p); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var s Strays
	if err := walkStrays(r, ".", verified, dirs, &s); err != nil {
		return Strays{}, fmt.Errorf("inspect %s: %w", root, err)
	}
	slices.Sort(s.Extra)
	return s, nil
}

func walkStrays(r *os.Root, dir string, verified Cache, dirs map[string]bool, s *Strays) error {
	f, err := r.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		p := name
		if dir != "." {
			p = dir + "/" + name
		}
		switch _, listed := verified[p]; {
		case listed || (dir == "." && name == FileName):
		case dirs[p]:
			if err := walkStrays(r, p, verified, dirs, s); err != nil {
				return err
			}
		default:
			// An unlisted directory is a stray only for what it holds: an archive may carry
			// empty directories, which SHA256SUMS cannot list.
			fi, err := r.Lstat(p)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				if err := walkStrays(r, p, verified, dirs, s); err != nil {
					return err
				}
				continue
			}
			s.Extra = append(s.Extra, p)
		}
	}
	return nil
}
