package queue

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
)

// The fair open. Fans who join a room before its opening are put in a
// uniformly random order at the opening: each place's draw key is an HMAC of
// its entry ID under the room's secret seed, and the places are ordered by
// key. The seed is committed to before the opening (Commitment) and
// published after it, so anyone can recompute the order from the published
// entry IDs; nobody can predict it before, so joining early, or at the last
// millisecond, gains nothing.

// DrawSpan bounds draw keys: every DrawKey is below it, so that it is exact
// as a float64 (a Redis sorted-set score). Places taken at or after the
// opening are ordered by DrawSpan + seq, behind every drawn place.
const DrawSpan = 1 << 52

// EntryID is the public name of userID's place in concertID's draw: the
// lowercase hex of the first 16 bytes of SHA-256(concertID "\n" userID).
// It is what the draw publishes instead of user IDs; a fan computes it from
// the two IDs their queue token carries.
func EntryID(concertID, userID string) string {
	h := sha256.Sum256([]byte(concertID + "\n" + userID))
	return hex.EncodeToString(h[:16])
}

// DrawKey is entryID's key in the draw made with seed: the first 8 bytes,
// big-endian, of HMAC-SHA256(seed, entryID), shifted right by 12, so below
// DrawSpan. Lower keys come first.
func DrawKey(seed []byte, entryID string) uint64 {
	m := hmac.New(sha256.New, seed)
	m.Write([]byte(entryID))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(m.Sum(sum[:0])) >> 12
}

// Commitment is the public commitment to seed: the lowercase hex of
// SHA-256(seed). Published before the opening, it proves afterwards that
// the revealed seed was fixed in advance.
func Commitment(seed []byte) string {
	h := sha256.Sum256(seed)
	return hex.EncodeToString(h[:])
}

// DrawOrder returns entryIDs in the order of the draw made with seed: by
// DrawKey, then by entry ID. It leaves entryIDs unchanged.
func DrawOrder(seed []byte, entryIDs []string) []string {
	type entry struct {
		key uint64
		id  string
	}
	es := make([]entry, len(entryIDs))
	for i, id := range entryIDs {
		es[i] = entry{DrawKey(seed, id), id}
	}
	slices.SortFunc(es, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.id, b.id))
	})
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.id
	}
	return out
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
