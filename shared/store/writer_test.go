package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/store"
)

// faultyDB passes BatchWriteItem on to moto, except that it leaves a
// random part of some batches unprocessed (as DynamoDB does under a
// throttle, which moto never does) and fails one call outright. It
// records, per key, every version stored and by which call.
type faultyDB struct {
	store.DB
	rng      *rand.Rand
	calls    int
	failAt   int                      // the call that fails (0: none)
	storedAt map[string]int           // key -> call that stored it last
	stores   map[string][]storedValue // key -> every version stored, by call
}

type storedValue struct{ call, n int }

func (f *faultyDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.calls++
	if f.calls == f.failAt {
		return nil, errors.New("injected: connection reset")
	}
	out := &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]ddbtypes.WriteRequest{}}
	pass := map[string][]ddbtypes.WriteRequest{}
	for table, reqs := range in.RequestItems {
		for _, r := range reqs {
			if f.rng.IntN(4) == 0 {
				out.UnprocessedItems[table] = append(out.UnprocessedItems[table], r)
				continue
			}
			pass[table] = append(pass[table], r)
		}
	}
	if len(pass) > 0 {
		if _, err := f.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pass}, opts...); err != nil {
			return nil, err
		}
	}
	for _, reqs := range pass {
		for _, r := range reqs {
			k := r.PutRequest.Item["sk"].(*ddbtypes.AttributeValueMemberS).Value
			var v row
			if err := attributevalue.UnmarshalMap(r.PutRequest.Item, &v); err != nil {
				return nil, err
			}
			f.storedAt[k] = f.calls
			f.stores[k] = append(f.stores[k], storedValue{f.calls, v.N})
		}
	}
	return out, nil
}

// TestPutAfterNeverPassesWhatCameBefore puts, in a random order over many
// rounds, plain items, IfChanged items (some unchanged since the last
// round, so dropped), items put twice and PutAfter marks, through a table
// that leaves random parts of batches unprocessed and fails one call.
// Whatever happens, a mark is stored only by a call after the one that
// stored the last item put before it; a write that fails keeps what it
// did not store (Holds), and a later Flush stores it.
func TestPutAfterNeverPassesWhatCameBefore(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	moto := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			db := &faultyDB{DB: moto, rng: rand.New(rand.NewPCG(seed, 7)), failAt: 3 + int(seed)*2, storedAt: map[string]int{}, stores: map[string][]storedValue{}}
			w := &store.Writer{Store: store.Store{DB: db, Table: res.DataTable}, Backoff: 1}
			rng := rand.New(rand.NewPCG(seed, 11))
			pk := fmt.Sprintf("PROJECT#%d", 900+seed)
			type mark struct {
				sk     string
				before int // how many puts came before it
			}
			type putOf struct {
				sk string
				n  int
			}
			var marks []mark
			var puts []putOf
			failed := false
			for round := range 4 {
				for i := range 40 + rng.IntN(40) {
					var sk string
					var n int
					switch r := rng.IntN(10); {
					case r == 0:
						sk = fmt.Sprintf("MARK#%d#%03d", round, i)
						marks = append(marks, mark{sk: sk, before: len(puts)})
						if err := w.PutAfter(ctx, store.Item{PK: pk, SK: sk, Kind: "mark", Value: row{N: i}}); err != nil {
							failed = true
						}
						continue
					case r < 5: // an item of a small set: often the same as before, or put twice in a round
						sk, n = fmt.Sprintf("ROW#%02d", rng.IntN(30)), rng.IntN(3)
					default:
						sk, n = fmt.Sprintf("NEW#%d#%03d", round, i), i
					}
					puts = append(puts, putOf{sk, n})
					if err := w.Put(ctx, store.Item{PK: pk, SK: sk, Kind: "row", Value: row{N: n}, IfChanged: sk[0] == 'R'}); err != nil {
						failed = true
					}
				}
				if err := w.Flush(ctx); err != nil {
					failed = true
					for _, m := range marks {
						if _, stored := db.storedAt[m.sk]; stored == w.Holds(pk, m.sk) {
							t.Errorf("after a failed flush, mark %s: stored %v, held %v; want exactly one", m.sk, stored, !stored)
						}
					}
				}
			}
			if err := w.Flush(ctx); err != nil {
				t.Fatalf("a flush after the fault: %v", err)
			}
			if !failed {
				t.Fatalf("the injected failure (call %d of %d) hit no write: the test checked nothing of it", db.failAt, db.calls)
			}
			for _, m := range marks {
				at, ok := db.storedAt[m.sk]
				if !ok {
					t.Fatalf("mark %s was never stored", m.sk)
				}
				// Each put before the mark is stored by an earlier call: its
				// value, or that of a later put of the same key it collapsed
				// into, or (an IfChanged put found unchanged) the same value
				// stored before.
				for i, p := range puts[:m.before] {
					ok := false
					for _, sv := range db.stores[p.sk] {
						if sv.call >= at {
							continue
						}
						for _, q := range puts[i:] {
							if q.sk == p.sk && q.n == sv.n {
								ok = true
							}
						}
					}
					if !ok {
						t.Errorf("mark %s stored by call %d before put %d (%s = %d) was: stored %v", m.sk, at, i, p.sk, p.n, db.stores[p.sk])
					}
				}
			}
			if len(marks) == 0 {
				t.Fatal("no mark was put")
			}
		})
	}
}
