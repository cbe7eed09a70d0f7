// Package canontest checks canonical encodings (package canon) in tests.
package canontest

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/synodvm/synod/machine/canon"
)

// ZeroFields lists by path ("Threads[0].Wait.FDs") the fields of v left
// at their zero value, looking into nested structs, pointers, and the
// elements of slices and maps that are such: an empty slice or map is
// zero, so is a nil pointer. A slice of numbers or strings, an array, and
// a struct with unexported fields (netip.AddrPort) are one value each,
// non-zero as a whole. A test that fills a state with non-zero values
// calls it so that a field added later, and not filled, fails the test
// instead of going untested.
func ZeroFields(v any) []string {
	var zero []string
	walk(reflect.ValueOf(v), "", &zero)
	return zero
}

func walk(v reflect.Value, path string, zero *[]string) {
	if v.IsZero() {
		*zero = append(*zero, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		walk(v.Elem(), path, zero)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				return
			}
		}
		for i := range t.NumField() {
			walk(v.Field(i), path+"."+t.Field(i).Name, zero)
		}
	case reflect.Slice:
		if composite(v.Type().Elem()) {
			for i := range v.Len() {
				walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), zero)
			}
		}
	case reflect.Map:
		if composite(v.Type().Elem()) {
			for it := v.MapRange(); it.Next(); {
				walk(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()), zero)
			}
		}
	}
}

// composite reports whether values of t have fields of their own to
// look into.
func composite(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct, reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return true
	}
	return false
}

// RoundTrip checks that v has no zero field, that it encodes with code and
// decodes to an equal value, and that this encodes to the same bytes. It
// returns the encoding.
func RoundTrip[T any](t testing.TB, v *T, code func(*canon.Codec, *T)) []byte {
	t.Helper()
	if zero := ZeroFields(v); len(zero) > 0 {
		t.Fatalf("fill every field of the %T; these are zero: %v", *v, zero)
	}
	enc := canon.NewEncoder(nil)
	code(enc, v)
	var got T
	dec := canon.NewDecoder(enc.Bytes())
	code(dec, &got)
	if err := dec.Finish(); err != nil {
		t.Fatalf("decode %T: %v", *v, err)
	}
	if !reflect.DeepEqual(*v, got) {
		t.Fatalf("%T decodes differently:\nencoded %+v\ndecoded %+v", *v, *v, got)
	}
	again := canon.NewEncoder(nil)
	code(again, &got)
	if !bytes.Equal(enc.Bytes(), again.Bytes()) {
		t.Fatalf("%T encodes differently once decoded", *v)
	}
	return enc.Bytes()
}
