package memo

import (
	"sync"
	"testing"
)

func TestMap(t *testing.T) {
	m := New[string, int](2)
	m.Put("a", 1)
	m.Put("b", 2)
	if v, ok := m.Get("a"); !ok || v != 1 {
		t.Fatalf("a = %v %v", v, ok)
	}
	m.Put("b", 3) // replacing a key never resets
	if m.Len() != 2 {
		t.Fatalf("len %d after replacing", m.Len())
	}
	m.Put("c", 4) // past the bound: starts over
	if _, ok := m.Get("a"); ok || m.Len() != 1 {
		t.Fatalf("did not start over: len %d", m.Len())
	}
	m.Delete("c")
	if _, ok := m.Get("c"); ok {
		t.Fatal("c still there")
	}
}

func TestMapIsSafeForConcurrentUse(t *testing.T) {
	m := New[int, int](100)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				m.Put(g*1000+i, i)
				m.Get(i)
			}
		}()
	}
	wg.Wait()
	if m.Len() > 100 {
		t.Fatalf("len %d over the bound", m.Len())
	}
}
