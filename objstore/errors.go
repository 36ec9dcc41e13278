package objstore

import (
	"errors"
)

var (
	// ErrNoBucket means the URL's bucket does not exist on the connection's account.
	ErrNoBucket = errors.New("no such Object Store bucket")
	// ErrNoObject means the bucket holds no object of that name, or it was deleted.
	ErrNoObject = errors.New("no such object")
	// ErrDenied means the server refused the connection's user access to the bucket: a
	// permissions violation on its $JS.API or $O subjects, or on the connection's inbox. The
	// server does not answer a request it refuses, so Fetch says so once the request has gone
	// unanswered for ConnectTimeout.
	ErrDenied = errors.New("access denied")
)
