package query

// Names of the spans the extension writes for what the Lambda platform
// reports about an invocation.
const (
	// PlatformInvokeSpan covers the invocation, from its start to the
	// runtime's answer (and the runtime's overhead after it).
	PlatformInvokeSpan = "lambda.invoke"
	// PlatformInitSpan covers the environment's initialisation before a
	// cold start's first invocation.
	PlatformInitSpan = "lambda.init"
)

// hangPlatformSpans puts an invocation's platform spans where they belong
// in the tree. The extension learns the invocation's figures only after
// the function's spans are exported, so it stores lambda.invoke and
// lambda.init as children of the function's span of the invocation (the
// handler). Shown that way, lambda.invoke starts before the span it hangs
// under and ends after it, and lambda.init runs before its parent starts.
// Here lambda.invoke takes the handler's place, under the handler's parent
// or as a root, and the handler hangs under it; lambda.init becomes
// lambda.invoke's sibling. Both are the same invocation when they name the
// same request and function.
//
// parent holds each node's parent index (-1 for a root) and is rewritten;
// moved nodes are flagged Rehung.
func hangPlatformSpans(nodes []Node, parent []int) {
	for i := range nodes {
		inv := &nodes[i]
		h := parent[i]
		if inv.Span.Name != PlatformInvokeSpan || h < 0 || !sameInvocation(&nodes[h].Span, &inv.Span) || nodes[h].Rehung {
			continue
		}
		above := parent[h]
		if above == i {
			continue // a cycle; BuildTrace breaks it
		}
		parent[i], parent[h] = above, i
		inv.Rehung, nodes[h].Rehung = true, true
		for j := range nodes {
			if parent[j] == h && nodes[j].Span.Name == PlatformInitSpan && sameInvocation(&nodes[j].Span, &inv.Span) {
				parent[j] = above
				nodes[j].Rehung = true
			}
		}
	}
}

func sameInvocation(a, b *Span) bool {
	return a.RequestID != "" && a.RequestID == b.RequestID && a.Source() == b.Source()
}
