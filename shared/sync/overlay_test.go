package sync

import (
	"slices"
	"testing"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestOverlayMergesHeldItemsInOrder: the held items come in sort-key
// order among the stored ones, a held item replaces the stored one of its
// key, through stops at a read's last key and rest takes what is left.
func TestOverlayMergesHeldItemsInOrder(t *testing.T) {
	item := func(key, from string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"sk": &ddbtypes.AttributeValueMemberS{Value: key}, "from": &ddbtypes.AttributeValueMemberS{Value: from}}
	}
	var got []string
	o := &overlay{pending: []map[string]ddbtypes.AttributeValue{item("b", "held"), item("c", "held"), item("d", "held"), item("g", "held")},
		add: func(sk string, it map[string]ddbtypes.AttributeValue) error {
			got = append(got, sk+"="+it["from"].(*ddbtypes.AttributeValueMemberS).Value)
			return nil
		}}
	for _, key := range []string{"a", "c"} { // a first page that stops at c
		if err := o.item(key, item(key, "stored")); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.through("c"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=stored", "b=held", "c=held"}; !slices.Equal(got, want) {
		t.Fatalf("first page: got %v, want %v", got, want)
	}
	for _, key := range []string{"e", "f"} {
		if err := o.item(key, item(key, "stored")); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.rest(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=stored", "b=held", "c=held", "d=held", "e=stored", "f=stored", "g=held"}; !slices.Equal(got, want) {
		t.Errorf("whole read: got %v, want %v", got, want)
	}
}
