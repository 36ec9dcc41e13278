package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines/spec"
)

type getCommand struct {
	kv   kvFlags
	keys []string
	raw  bool
	json bool
}

func configureGet(app *fisk.Application) {
	c := &getCommand{}
	cmd := app.Command("get", "Prints the specification published in the NATS Key-Value bucket, decoded and verified").Action(action(c.run))
	c.kv.register(cmd, localServerHelp)
	c.kv.registerDir(cmd)
	c.kv.registerProfiles(cmd)
	cmd.Flag("public-key", "A trusted public key: exits 0 only when one of them verifies the signature; repeat for rotation").StringsVar(&c.keys)
	cmd.Flag("raw", "Prints the stored envelope as it is, for mms verify or mms put").UnNegatableBoolVar(&c.raw)
	jsonFlag(cmd, &c.json)
}

func (c *getCommand) run() error {
	if c.raw && c.json {
		return usageError("--raw and --json print two different things: give one")
	}
	keys, err := loadKeys("--public-key", c.keys)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout+requestTimeout)
	defer cancel()
	url, nc, js, err := c.kv.dial(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	e, where, err := c.kv.published(ctx, js, url)
	if err != nil {
		return err
	}
	if c.raw {
		fmt.Println(string(e.Value))
		return nil
	}
	s, err := spec.Open(e.Value, spec.Trust{Keys: keys, InsecureAllowUnsigned: true})
	if err != nil {
		return fmt.Errorf("get %s: %w", where, err)
	}
	doc := newSpecDoc("get", where, s, len(keys), time.Now())
	doc.KV = &kvDoc{Bucket: c.kv.bucket, Key: c.kv.key, Revision: e.Revision, Stored: e.Created.UTC()}
	return doc.show(os.Stdout, c.json)
}
