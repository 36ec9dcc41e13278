package install

import (
	"testing"
)

func TestMMSNames(t *testing.T) {
	t.Run("recognises the names mms makes", func(t *testing.T) {
		for _, n := range []string{mmsName(stagePrefix, "web"), mmsName(oldPrefix, "my-web.v2")} {
			if !isMMSName(n) {
				t.Errorf("isMMSName(%q) = false", n)
			}
		}
	})
	t.Run("leaves every other name alone", func(t *testing.T) {
		for _, n := range []string{".mms", ".mms-stage-x", ".mms-stage-web", ".mms-stage-web-0123", ".mms-stage-web-0123456789ABCDEF",
			".mms-stage-web-0123456789abcdeg", ".mms-stage--0123456789abcdef", ".mms-stage-tmp-0123456789abcdef",
			".mms-stage-.x-0123456789abcdef", ".mms-other-web-0123456789abcdef", ".stage-web-0123456789abcdef",
			"web", "tmp", ".git", "mms-stage-web-0123456789abcdef"} {
			if isMMSName(n) {
				t.Errorf("isMMSName(%q) = true", n)
			}
		}
	})
}
