package memory

import "math/rand/v2"

// node is an entry of a tree, ordered by (a, b). b is the place's sequence
// number, so keys within one room are unique.
type node struct {
	a, b int64
	prio uint64
	size int
	l, r *node
	p    *place
}

// tree is an order-statistics treap: insert, delete, rank and smallest
// entry in O(log n) expected.
type tree struct{ root *node }

func size(n *node) int {
	if n == nil {
		return 0
	}
	return n.size
}

func (n *node) fix() { n.size = 1 + size(n.l) + size(n.r) }

func keyLess(a1, b1, a2, b2 int64) bool { return a1 < a2 || a1 == a2 && b1 < b2 }

// Len returns the number of entries.
func (t *tree) Len() int { return size(t.root) }

// Insert adds n, which must not be in any tree, with key (a, b).
func (t *tree) Insert(n *node, a, b int64) {
	n.a, n.b, n.prio = a, b, rand.Uint64()
	n.l, n.r, n.size = nil, nil, 1
	t.root = insert(t.root, n)
}

// Delete removes n, which must be in t.
func (t *tree) Delete(n *node) {
	t.root = remove(t.root, n)
	n.l, n.r, n.size = nil, nil, 0
}

// Min returns the entry with the smallest key, or nil.
func (t *tree) Min() *node {
	n := t.root
	if n == nil {
		return nil
	}
	for n.l != nil {
		n = n.l
	}
	return n
}

// Rank returns how many entries have a key below n's.
func (t *tree) Rank(n *node) int { return t.countBelow(n.a, n.b) }

// CountUpTo returns how many entries have a <= limit.
func (t *tree) CountUpTo(limit int64) int {
	if limit == maxInt64 {
		return t.Len()
	}
	return t.countBelow(limit+1, minInt64)
}

const (
	maxInt64 = 1<<63 - 1
	minInt64 = -1 << 63
)

func (t *tree) countBelow(a, b int64) int {
	c := 0
	for n := t.root; n != nil; {
		if keyLess(n.a, n.b, a, b) {
			c += size(n.l) + 1
			n = n.r
		} else {
			n = n.l
		}
	}
	return c
}

func insert(n, x *node) *node {
	if n == nil {
		return x
	}
	if x.prio > n.prio {
		x.l, x.r = split(n, x.a, x.b)
		x.fix()
		return x
	}
	if keyLess(x.a, x.b, n.a, n.b) {
		n.l = insert(n.l, x)
	} else {
		n.r = insert(n.r, x)
	}
	n.size++
	return n
}

func remove(n, x *node) *node {
	if n == nil {
		return nil
	}
	if n == x {
		return merge(n.l, n.r)
	}
	if keyLess(x.a, x.b, n.a, n.b) {
		n.l = remove(n.l, x)
	} else {
		n.r = remove(n.r, x)
	}
	n.fix()
	return n
}

// split returns the entries with keys below (a, b) and the others.
func split(n *node, a, b int64) (*node, *node) {
	if n == nil {
		return nil, nil
	}
	if keyLess(n.a, n.b, a, b) {
		l, r := split(n.r, a, b)
		n.r = l
		n.fix()
		return n, r
	}
	l, r := split(n.l, a, b)
	n.l = r
	n.fix()
	return l, n
}

func merge(l, r *node) *node {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.prio > r.prio:
		l.r = merge(l.r, r)
		l.fix()
		return l
	default:
		r.l = merge(l, r.l)
		r.fix()
		return r
	}
}

// Each calls f on the entries in key order until f returns false.
func (t *tree) Each(f func(n *node) bool) {
	var stack []*node
	n := t.root
	for n != nil || len(stack) > 0 {
		for n != nil {
			stack = append(stack, n)
			n = n.l
		}
		n = stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !f(n) {
			return
		}
		n = n.r
	}
}
