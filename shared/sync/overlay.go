package sync

import ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

// overlay merges the items a writer holds for a partition (sorted by sort
// key) into a read of the stored partition in sort-key order: a held item
// replaces the stored one of its key, and one not stored yet comes in its
// place in the order.
type overlay struct {
	pending []map[string]ddbtypes.AttributeValue
	i       int
	add     func(sk string, item map[string]ddbtypes.AttributeValue) error
}

func sk(item map[string]ddbtypes.AttributeValue) string {
	v, _ := item["sk"].(*ddbtypes.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// item takes the next stored item.
func (o *overlay) item(key string, stored map[string]ddbtypes.AttributeValue) error {
	for o.i < len(o.pending) && sk(o.pending[o.i]) < key {
		if err := o.add(sk(o.pending[o.i]), o.pending[o.i]); err != nil {
			return err
		}
		o.i++
	}
	if o.i < len(o.pending) && sk(o.pending[o.i]) == key {
		o.i++
		return o.add(key, o.pending[o.i-1])
	}
	return o.add(key, stored)
}

// through takes the held items up to last (a read stopped there).
func (o *overlay) through(last string) error {
	for o.i < len(o.pending) && sk(o.pending[o.i]) <= last {
		if err := o.add(sk(o.pending[o.i]), o.pending[o.i]); err != nil {
			return err
		}
		o.i++
	}
	return nil
}

// rest takes the held items after the last stored one (the read ended).
func (o *overlay) rest() error {
	for ; o.i < len(o.pending); o.i++ {
		if err := o.add(sk(o.pending[o.i]), o.pending[o.i]); err != nil {
			return err
		}
	}
	return nil
}
