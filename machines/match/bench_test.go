package match

import "testing"

// typicalExpression is the kind of matcher an operator writes.
const typicalExpression = `identity('^web') && has_command('tool') && get_fact('cpu.count') > 4 && 'prod' in get_fact('tags')`

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(typicalExpression); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	node := testNode(b)
	for _, bc := range []struct{ name, expr string }{
		{"empty", ""},
		{"identity", `identity('^web')`},
		{"typical", typicalExpression},
	} {
		m := mustCompile(b, bc.expr)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := m.Match(node); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
