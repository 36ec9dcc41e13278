package match_test

import (
	"fmt"

	"github.com/mms-io/mms/machines/match"
)

func ExampleCompile() {
	m, err := match.Compile(`identity('^web') && get_fact('cpu.count') > 4 && 'prod' in get_fact('tags')`)
	if err != nil {
		panic(err)
	}
	facts := []byte(`{"cpu": {"count": 8}, "tags": ["prod"]}`)
	for _, name := range []string{"web1.example.net", "db1.example.net"} {
		node, err := match.NewNode(name, facts, "")
		if err != nil {
			panic(err)
		}
		ok, err := m.Match(node)
		fmt.Println(name, ok, err)
	}

	_, err = match.Compile("1+1")
	fmt.Println(err)
	// Output:
	// web1.example.net true <nil>
	// db1.example.net false <nil>
	// matcher failed: matcher "1+1": expected bool, but got int
}
