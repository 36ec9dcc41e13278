package fetch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestSourcePrinting(t *testing.T) {
	cases := []struct {
		name string
		src  Source
		want string
	}{
		{"shows a URL without credentials as it is", Source{URL: "https://repo.example/web.tgz"}, "https://repo.example/web.tgz"},
		{"leaves out the userinfo of the URL, username and password", Source{URL: "https://bob:" + secret + "@repo.example/web.tgz"}, "https://repo.example/web.tgz"},
		{"leaves out the Username and Password fields", Source{URL: "https://repo.example/web.tgz", Username: "alice", Password: secret}, "https://repo.example/web.tgz"},
		{"leaves out a username without a password", Source{URL: "https://alice@repo.example/w.tgz"}, "https://repo.example/w.tgz"},
		{"leaves out the query, where tokens live", Source{URL: "https://repo.example/w.tgz?token=" + secret + "&x=1"}, "https://repo.example/w.tgz"},
		{"leaves out the fragment", Source{URL: "https://repo.example/w.tgz#" + secret}, "https://repo.example/w.tgz"},
		{"keeps the port and an escaped path", Source{URL: "https://repo.example:8443/a%2Fb/w.tgz?sig=" + secret}, "https://repo.example:8443/a%2Fb/w.tgz"},
		{"redacts the userinfo of a URL that does not parse", Source{URL: "https://bob:" + secret + "@repo.example:%zz/w.tgz"}, "https://xxxxx@repo.example:%zz/w.tgz"},
		{"redacts a password holding an @ in a URL that does not parse", Source{URL: "https://bob:a@" + secret + "@repo:x/%zz"}, "https://xxxxx@repo:x/%zz"},
		{"drops the query of a URL that does not parse", Source{URL: "https://repo:x/%zz?token=" + secret}, "https://repo:x/%zz"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.src.String(); got != c.want {
				t.Errorf("String() = %q, want %q", got, c.want)
			}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%10v", "%-v"} {
				if got := fmt.Sprintf(verb, c.src); got != c.want {
					t.Errorf("%s printed %q, want %q", verb, got, c.want)
				}
				if got := fmt.Sprintf(verb, &c.src); got != c.want {
					t.Errorf("%s of a pointer printed %q, want %q", verb, got, c.want)
				}
			}
			if got := fmt.Sprintf("%q", c.src); got != fmt.Sprintf("%q", c.want) {
				t.Errorf("%%q printed %s", got)
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("fetch", "source", c.src)
			var line struct{ Source string }
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line.Source != c.want {
				t.Errorf("slog wrote %s", buf.String())
			}
			if strings.Contains(fmt.Sprintf("%v %+v", []Source{c.src}, struct{ S Source }{c.src}), secret) {
				t.Error("a Source inside a slice or an exported field printed its password")
			}
		})
	}
}

// FuzzSourceString checks that no URL, however malformed, makes String show a password
// given in the fields or in the URL's userinfo.
func FuzzSourceString(f *testing.F) {
	for _, seed := range []string{
		"https://repo.example/web.tgz", "http://127.0.0.1:8080/a?b#c", "https://host:%zz/x",
		"ftp://h/", "no-scheme/at/all", "http://[::1]:80/x", "http://h@/", "://@", "", "http://a b/",
	} {
		f.Add(seed, "s3cr3t-pass")
	}
	f.Fuzz(func(t *testing.T, rest, pass string) {
		// the marker is in no escaping's output, so only the password can bring it
		const marker = "PW!"
		unescaped, _ := url.PathUnescape(rest)
		if strings.ContainsAny(pass, "@/?#%\\[]") || strings.Contains(rest+unescaped, marker) {
			t.Skip("the password must need no escaping and the URL must not hold the marker")
		}
		pass = marker + pass
		scheme, after, ok := strings.Cut(rest, "://")
		if !ok {
			scheme, after = "http", rest
		}
		if strings.ContainsAny(scheme, "/?#@") {
			t.Skip()
		}
		for _, src := range []Source{
			{URL: rest, Username: "alice", Password: pass},
			{URL: scheme + "://alice:" + pass + "@" + after},
		} {
			if got := src.String(); strings.Contains(got, marker) {
				t.Fatalf("Source{URL: %q}.String() = %q shows the password %q", src.URL, got, pass)
			}
		}
	})
}
