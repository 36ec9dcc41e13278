// Package memo holds what a long-running mms node remembers between reconciles (compiled
// matchers, parsed SHA256SUMS files, decoded records): a map safe for concurrent use that
// starts over when it reaches its bound, so that it never grows without limit.
package memo

import "sync"

// Map is a bounded map safe for concurrent use. Create it with New.
type Map[K comparable, V any] struct {
	mu  sync.Mutex
	max int
	m   map[K]V
}

// New returns a Map that holds at most max values; past that it forgets them all and starts
// over (what it holds is only ever a cache).
func New[K comparable, V any](max int) *Map[K, V] {
	return &Map[K, V]{max: max, m: map[K]V{}}
}

// Get returns the value remembered for k.
func (c *Map[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

// Put remembers v for k.
func (c *Map[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		c.m = map[K]V{}
	}
	c.m[k] = v
}

// Delete forgets k.
func (c *Map[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

// Len tells how many values are remembered.
func (c *Map[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
