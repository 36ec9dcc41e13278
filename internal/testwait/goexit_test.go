package testwait

import "runtime"

// runtimeGoexit stops the goroutine as testing's FailNow does.
var runtimeGoexit = runtime.Goexit
