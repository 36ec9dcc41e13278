// Package peer builds the go-choria programs that tests run beside mms, as the fleets we
// migrate from run them: go-choria v0.29.4's choria and mms (the separate module in
// gochoria029/, pinned at v0.29.4) and a stock go-choria v0.30.2 node (gochoria030/, from this
// module's go-choria). Only tests import it.
package peer
