package indexer

// unionFind is a union-find forest over ad indexes, with path compression.
// Which root wins a union, and what a component records, is left to its
// user: profiles and networks each keep their own policy.
type unionFind struct{ parent []int32 }

// add adds i, the next index, as a component of its own.
func (u *unionFind) add(i int32) { u.parent = append(u.parent, i) }

// find returns the root of i, compressing the path on the way.
func (u *unionFind) find(i int32) int32 {
	root := i
	for u.parent[root] != root {
		root = u.parent[root]
	}
	for i != root {
		next := u.parent[i]
		u.parent[i] = root
		i = next
	}
	return root
}

// forest reports whether every element's parents lead to a root (one
// that is its own parent): what a union-find read from a file must hold
// for find to end. It takes one pass and a byte per element.
func (u *unionFind) forest() bool {
	const (
		unseen = iota
		walking
		rooted
	)
	state := make([]uint8, len(u.parent))
	for i := range u.parent {
		j := int32(i)
		for state[j] == unseen {
			state[j] = walking
			if u.parent[j] == j {
				break
			}
			j = u.parent[j]
		}
		if state[j] == walking && u.parent[j] != j {
			return false // back at an element of this walk: a cycle
		}
		for j = int32(i); state[j] == walking; j = u.parent[j] {
			state[j] = rooted
		}
	}
	return true
}

// attach joins the component of root child under root.
func (u *unionFind) attach(child, root int32) { u.parent[child] = root }

// reset makes every index a component of its own again.
func (u *unionFind) reset() {
	for i := range u.parent {
		u.parent[i] = int32(i)
	}
}
