package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/store"
)

type row struct {
	N         int       `dynamodbav:"n"`
	Tags      []string  `dynamodbav:"tags"`
	UpdatedAt time.Time `dynamodbav:"updated_at"`
}

// TestWriterWritesOnlyWhatChanged writes 120 items, then the same 120
// with 7 changed, 2 new, one changed only in its unhashed time stamp and
// one put without IfChanged: the second round writes the 10 that must be
// written, in one batch, after 2 comparison reads; what is stored is the
// latest of every item; a key put twice in one round is written once.
func TestWriterWritesOnlyWhatChanged(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	st := store.Store{DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable}
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	item := func(i, n int, at time.Time) store.Item {
		return store.Item{PK: "PROJECT#9", SK: fmt.Sprintf("ROW#%03d", i), Kind: "row", IfChanged: true, Unhashed: []string{"updated_at"},
			Value: row{N: n, Tags: []string{"a", fmt.Sprint(i)}, UpdatedAt: at}}
	}
	w := &store.Writer{Store: st}
	for i := range 120 {
		if err := w.Put(ctx, item(i, i, t0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if w.Items != 120 || w.Changed != 120 {
		t.Fatalf("first round: %d written, %d changed; want 120 and 120 (nothing stored yet)", w.Items, w.Changed)
	}

	w = &store.Writer{Store: st}
	t1 := t0.Add(time.Hour)
	want := map[string]int{}
	for i := range 122 {
		n := i
		switch {
		case i%17 == 0: // 0, 17, ..., 102: 7 changed
			n = -i
		case i == 5: // only the time stamp moves: not a change
		}
		it := item(i, n, t1)
		if i == 6 {
			it.IfChanged = false // written whatever is stored
		}
		if i == 8 {
			if err := w.Put(ctx, item(i, 999, t1)); err != nil { // replaced below: one write
				t.Fatal(err)
			}
			n = 1000
			it = item(i, n, t1)
		}
		want[it.SK] = n
		if err := w.Put(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// 7 changed + 2 new (120, 121) + item 8 changed + item 6 put plainly.
	if w.Items != 11 || w.Requests != 1 {
		t.Errorf("second round: %d items in %d write requests, want 11 in 1", w.Items, w.Requests)
	}
	if w.Compares != 2 || w.Unchanged != 111 {
		t.Errorf("second round: %d comparison reads found %d unchanged, want 2 and 111", w.Compares, w.Unchanged)
	}
	var stamp row
	if err := st.Get(ctx, "PROJECT#9", "ROW#005", &stamp); err != nil || !stamp.UpdatedAt.Equal(t0) {
		t.Errorf("an item changed only in its unhashed stamp: stored updated_at %v (%v), want the first round's %v", stamp.UpdatedAt, err, t0)
	}
	for sk, n := range want {
		var got row
		if err := st.Get(ctx, "PROJECT#9", sk, &got); err != nil || got.N != n {
			t.Errorf("%s: stored n=%d (%v), want %d", sk, got.N, err, n)
		}
	}
}
