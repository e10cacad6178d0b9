package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// hashAttr is the attribute that holds an item's content hash: what the
// Writer compares before it writes an item marked IfChanged.
const hashAttr = "h"

// contentHash is a hash of an item's attributes, except the hash itself
// and the attributes named in skip (a time stamp that moves on every
// write, for example), in a canonical order.
func contentHash(m map[string]ddbtypes.AttributeValue, skip []string) string {
	h := sha256.New()
	var enc func(v ddbtypes.AttributeValue)
	str := func(tag byte, s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write([]byte{tag})
		h.Write(n[:])
		h.Write([]byte(s))
	}
	encMap := func(m map[string]ddbtypes.AttributeValue) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		str('{', fmt.Sprint(len(keys)))
		for _, k := range keys {
			str('k', k)
			enc(m[k])
		}
	}
	enc = func(v ddbtypes.AttributeValue) {
		switch v := v.(type) {
		case *ddbtypes.AttributeValueMemberS:
			str('S', v.Value)
		case *ddbtypes.AttributeValueMemberN:
			str('N', v.Value)
		case *ddbtypes.AttributeValueMemberB:
			str('B', string(v.Value))
		case *ddbtypes.AttributeValueMemberBOOL:
			str('T', fmt.Sprint(v.Value))
		case *ddbtypes.AttributeValueMemberNULL:
			str('0', "")
		case *ddbtypes.AttributeValueMemberL:
			str('[', fmt.Sprint(len(v.Value)))
			for _, e := range v.Value {
				enc(e)
			}
		case *ddbtypes.AttributeValueMemberM:
			encMap(v.Value)
		case *ddbtypes.AttributeValueMemberSS:
			s := slices.Sorted(slices.Values(v.Value))
			str('s', fmt.Sprint(s))
		case *ddbtypes.AttributeValueMemberNS:
			s := slices.Sorted(slices.Values(v.Value))
			str('n', fmt.Sprint(s))
		case *ddbtypes.AttributeValueMemberBS:
			str('b', fmt.Sprint(v.Value))
		default:
			str('?', fmt.Sprintf("%T", v))
		}
	}
	top := map[string]ddbtypes.AttributeValue{}
	for k, v := range m {
		if k != hashAttr && !slices.Contains(skip, k) {
			top[k] = v
		}
	}
	encMap(top)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// resolve reads the content hashes of the items waiting for a comparison
// (one BatchGetItem for up to 100, consistent reads, only the keys and
// the hash) and moves the ones that differ from what is stored, or are
// not stored, to the write buffer; the others are dropped.
func (w *Writer) resolve(ctx context.Context) error {
	for len(w.cmp) > 0 {
		n := min(maxBatchGet, len(w.cmp))
		chunk := w.cmp[:n]
		stored := map[[2]string]string{}
		keys := make([]map[string]ddbtypes.AttributeValue, 0, n)
		for _, e := range chunk {
			keys = append(keys, map[string]ddbtypes.AttributeValue{"pk": e.m["pk"], "sk": e.m["sk"]})
		}
		ka := ddbtypes.KeysAndAttributes{Keys: keys, ConsistentRead: aws.Bool(true),
			ProjectionExpression: aws.String("pk, sk, #h"), ExpressionAttributeNames: map[string]string{"#h": hashAttr}}
		if err := w.Store.batchGet(ctx, ka, &w.Compares, func(item map[string]ddbtypes.AttributeValue) error {
			if h, ok := item[hashAttr].(*ddbtypes.AttributeValueMemberS); ok {
				stored[keyOf(item)] = h.Value
			}
			return nil
		}); err != nil {
			return fmt.Errorf("compare %d items with %s: %w", n, w.Store.Table, err)
		}
		w.cmp = w.cmp[n:]
		w.cmpIndex = indexOf(w.cmp)
		// All of the chunk is buffered before any batch goes, so that
		// no PutAfter item passes one of them.
		for _, e := range chunk {
			if stored[keyOf(e.m)] == e.m[hashAttr].(*ddbtypes.AttributeValueMemberS).Value {
				w.Unchanged++
				continue
			}
			w.Changed++
			w.insert(e)
		}
		if err := w.writeReady(ctx); err != nil {
			return err
		}
	}
	return nil
}

func keyOf(m map[string]ddbtypes.AttributeValue) [2]string {
	pk, _ := m["pk"].(*ddbtypes.AttributeValueMemberS)
	sk, _ := m["sk"].(*ddbtypes.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return [2]string{}
	}
	return [2]string{pk.Value, sk.Value}
}

// XORHash folds one stored item (of sort key sk) into acc, a hex XOR of
// item fingerprints ("" for none): the result does not depend on the order
// the items come in. An item's fingerprint is its stored content hash, or
// for an item written before items carried one, the hash of its content.
func XORHash(acc, sk string, item map[string]ddbtypes.AttributeValue) string {
	h := ""
	if v, ok := item[hashAttr].(*ddbtypes.AttributeValueMemberS); ok {
		h = v.Value
	} else {
		h = contentHash(item, nil)
	}
	sum := sha256.Sum256([]byte(sk + "\x00" + h))
	out := sum[:16]
	if prev, err := hex.DecodeString(acc); err == nil && len(prev) == len(out) {
		for i := range out {
			out[i] ^= prev[i]
		}
	}
	return hex.EncodeToString(out)
}

// Pending returns the items of partition pk waiting to be written (after
// Resolve: IfChanged items only if they changed), in sort-key order: a
// reader of the partition that overlays them sees it as it will be once
// the writer flushes.
func (w *Writer) Pending(pk string) []map[string]ddbtypes.AttributeValue {
	var out []map[string]ddbtypes.AttributeValue
	for _, e := range w.buf {
		if keyOf(e.m)[0] == pk {
			out = append(out, e.m)
		}
	}
	slices.SortFunc(out, func(a, b map[string]ddbtypes.AttributeValue) int {
		return strings.Compare(keyOf(a)[1], keyOf(b)[1])
	})
	return out
}
