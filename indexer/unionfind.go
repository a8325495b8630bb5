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

// attach joins the component of root child under root.
func (u *unionFind) attach(child, root int32) { u.parent[child] = root }

// reset makes every index a component of its own again.
func (u *unionFind) reset() {
	for i := range u.parent {
		u.parent[i] = int32(i)
	}
}
