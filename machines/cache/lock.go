package cache

import (
	"context"
	"fmt"
	"sync"
)

// keyLock is the lock of one checksum: a token in a channel of one, so that a wait can end
// with its context.
type keyLock struct {
	token chan struct{}
	refs  int // holders and waiters; the lock is forgotten at 0
}

// Lock waits until no other caller holds the lock of checksum sum, takes it, and returns the
// function that releases it (calling it again does nothing). It serialises the callers of one
// checksum, so that two installs of the same archive fetch it once: lock, Take, on a miss
// fetch and Keep, unlock; the second caller then takes the archive the first kept. Locks of
// different checksums are independent, and Take and Keep do not need one: without it they
// stay correct, and only fetch twice.
//
// It returns an error when ctx ends first (with its cause), or when sum is not 64 hex
// characters. On a disabled cache it returns at once: there is nothing to share.
func (c *Cache) Lock(ctx context.Context, sum string) (unlock func(), err error) {
	sum, err = normalize(sum)
	if err != nil {
		return nil, fmt.Errorf("lock an archive of the cache: %w", err)
	}
	if !c.enabled() {
		return func() {}, nil
	}
	c.mu.Lock()
	l := c.locks[sum]
	if l == nil {
		l = &keyLock{token: make(chan struct{}, 1)}
		c.locks[sum] = l
	}
	l.refs++
	c.mu.Unlock()
	select {
	case l.token <- struct{}{}:
		var once sync.Once
		return func() {
			once.Do(func() {
				<-l.token
				c.forget(sum, l)
			})
		}, nil
	case <-ctx.Done():
		c.forget(sum, l)
		return nil, fmt.Errorf("wait for the archive cache's lock of %s: %w", sum, context.Cause(ctx))
	}
}

// forget drops one holder or waiter of l, and l itself when none is left.
func (c *Cache) forget(sum string, l *keyLock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(c.locks, sum)
	}
}
