package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"strings"
	"time"

	"github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

const verifyLotteryUsage = `Usage: boxoffice verify-lottery (--url URL | --file FILE) [--token QUEUE_TOKEN]...

Checks the publication of a concert's draw, the random order given at the
opening to the fans who joined before it (GET /v1/concerts/<id>/lottery):

  - SHA-256 of the published seed must be the commitment published before
    the opening, so the seed was fixed in advance;
  - ordering the published entries with the seed must give exactly their
    published positions, so nobody moved anyone.

With --token (repeatable), it also finds the entry of each queue token and
says which place it drew; a token whose entry is missing from the draw is a
failure. The exit status is non-zero when anything does not verify.

Flags:
`

// maxLotteryBytes bounds a publication read: about 1.5 million entries.
const maxLotteryBytes = 128 << 20

// tokenList is a repeatable flag.
type tokenList []string

func (l *tokenList) String() string     { return strings.Join(*l, ",") }
func (l *tokenList) Set(v string) error { *l = append(*l, v); return nil }

// verifyLotteryCommand runs `boxoffice verify-lottery`.
func verifyLotteryCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("boxoffice verify-lottery", verifyLotteryUsage, stderr)
	var (
		url    = fs.String("url", "", "URL of the publication: http://host/v1/concerts/<id>/lottery")
		file   = fs.String("file", "", "file holding the publication's JSON")
		tokens tokenList
	)
	fs.Var(&tokens, "token", "a queue token whose entry to find (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*url == "") == (*file == "") || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("verify-lottery: give exactly one of --url and --file")
	}
	var (
		body []byte
		err  error
	)
	if *url != "" {
		body, err = fetchLottery(ctx, *url)
	} else {
		body, err = readLottery(*file)
	}
	if err != nil {
		return fmt.Errorf("verify-lottery: %w", err)
	}
	var l http.Lottery
	if err := json.Unmarshal(body, &l); err != nil {
		return fmt.Errorf("verify-lottery: not a lottery publication: %w", err)
	}
	return verifyLottery(stdout, l, tokens)
}

func fetchLottery(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := nethttp.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLotteryBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != nethttp.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body[:min(len(body), 500)]))
	}
	if len(body) > maxLotteryBytes {
		return nil, fmt.Errorf("GET %s: publication larger than %d bytes", url, maxLotteryBytes)
	}
	return body, nil
}

func readLottery(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, maxLotteryBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxLotteryBytes {
		return nil, fmt.Errorf("%s: publication larger than %d bytes", path, maxLotteryBytes)
	}
	return body, nil
}

// maxListed bounds the mismatches listed one by one.
const maxListed = 10

// verifyLottery checks l, finds the entries of tokens, prints what it found
// on w and returns an error when anything does not verify.
func verifyLottery(w io.Writer, l http.Lottery, tokens []string) error {
	c, err := checkLottery(l, tokens)
	c.report(w, l)
	if err != nil {
		return err
	}
	if len(c.problems) > 0 {
		return fmt.Errorf("verify-lottery: the draw does not verify (%d problems)", len(c.problems))
	}
	return nil
}

// drawCheck is what checking a publication found, as far as it got.
type drawCheck struct {
	seed      string // the published seed, once it decodes
	committed bool   // SHA-256 of the seed is the commitment
	done      bool   // the draw is published and was checked
	entries   int
	exact     bool         // the seed orders the entries exactly as published
	places    []tokenPlace // the places the tokens' entries drew
	problems  []string
}

// tokenPlace is the place a token's entry drew.
type tokenPlace struct {
	entry string
	place int
}

func (c *drawCheck) fail(format string, a ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, a...))
}

// checkLottery checks l's seed against its commitment, its entries against
// the order the seed gives them, and finds the places of tokens' entries.
// It returns an error when the publication cannot be checked (yet).
func checkLottery(l http.Lottery, tokens []string) (*drawCheck, error) {
	c := &drawCheck{}
	if l.Seed == nil {
		return c, fmt.Errorf("verify-lottery: the seed is not published yet: it will be from the opening, %s", l.OpensAt.UTC().Format(time.RFC3339))
	}
	seed, err := hex.DecodeString(*l.Seed)
	if err != nil || len(seed) == 0 {
		return c, fmt.Errorf("verify-lottery: the seed %q is not hexadecimal", *l.Seed)
	}
	c.seed = *l.Seed
	if sum := sha256.Sum256(seed); hex.EncodeToString(sum[:]) != strings.ToLower(l.Commitment) {
		c.fail("commitment: SHA-256 of the seed is %x, not the published commitment %s: the seed is not the one committed to", sum, l.Commitment)
	} else {
		c.committed = true
	}
	if l.Entries == nil {
		return c, fmt.Errorf("verify-lottery: the draw is not made yet: it is made at the first admission step from the opening")
	}
	c.done, c.entries = true, len(l.Entries)
	published, ids := c.checkEntries(l.Entries)
	drawn := c.checkDraw(seed, ids, published)
	c.placeTokens(l.ConcertID, tokens, drawn)
	return c, nil
}

// checkEntries checks that the entries are well-formed and take each
// position 1..len(entries) once; it returns the published position of each
// good entry, and those entries.
func (c *drawCheck) checkEntries(entries []http.LotteryEntry) (map[string]int64, []string) {
	m := len(entries)
	published := make(map[string]int64, m) // entry → published position
	byPosition := make([]string, m+1)
	ids := make([]string, 0, m)
	for _, e := range entries {
		switch {
		case !isEntryID(e.Entry):
			c.fail("entry %q is not 32 lowercase hexadecimal digits", e.Entry)
			continue
		case published[e.Entry] != 0:
			c.fail("entry %s appears twice", e.Entry)
			continue
		case e.Position < 1 || e.Position > int64(m):
			c.fail("entry %s has position %d, outside 1..%d", e.Entry, e.Position, m)
			continue
		case byPosition[e.Position] != "":
			c.fail("position %d is given to %s and to %s", e.Position, byPosition[e.Position], e.Entry)
			continue
		}
		published[e.Entry] = e.Position
		byPosition[e.Position] = e.Entry
		ids = append(ids, e.Entry)
	}
	missing := 0
	for p := 1; p <= m; p++ {
		if byPosition[p] == "" {
			if missing++; missing <= maxListed {
				c.fail("position %d has no entry: an entry is missing", p)
			}
		}
	}
	if missing > maxListed {
		c.fail("%d more positions have no entry", missing-maxListed)
	}
	return published, ids
}

// checkDraw orders ids by seed and compares each place with the published
// one; it returns the place the seed gives each entry.
func (c *drawCheck) checkDraw(seed []byte, ids []string, published map[string]int64) map[string]int {
	order := queue.DrawOrder(seed, ids)
	drawn := make(map[string]int, len(order)) // entry → place the seed gives
	moved := 0
	for i, id := range order {
		drawn[id] = i + 1
		if published[id] != int64(i+1) {
			if moved++; moved <= maxListed {
				c.fail("entry %s is published at place %d, but the seed puts it at place %d", id, published[id], i+1)
			}
		}
	}
	if moved > maxListed {
		c.fail("%d more entries are not at the place the seed gives them", moved-maxListed)
	}
	c.exact = moved == 0 && len(ids) == c.entries
	return drawn
}

// placeTokens finds the place each token's entry drew.
func (c *drawCheck) placeTokens(concertID string, tokens []string, drawn map[string]int) {
	for _, tok := range tokens {
		t, err := token.Peek(tok)
		if err != nil {
			c.fail("--token %.12s…: not a queue token", tok)
			continue
		}
		entry := queue.EntryID(t.ConcertID, t.UserID)
		switch place, ok := drawn[entry]; {
		case t.ConcertID != concertID:
			c.fail("--token %.12s…: the token is for concert %s, not %s", tok, t.ConcertID, concertID)
		case !ok:
			c.fail("your entry %s is not in the draw: if you joined before the opening and kept your place until the draw, the draw left you out", entry)
		default:
			c.places = append(c.places, tokenPlace{entry: entry, place: place})
		}
	}
}

// report prints on w what c found about l, as far as the check got.
func (c *drawCheck) report(w io.Writer, l http.Lottery) {
	fmt.Fprintf(w, "concert     %s\nopening     %s\ncommitment  %s\n", l.ConcertID, l.OpensAt.UTC().Format(time.RFC3339), l.Commitment)
	if c.seed == "" {
		return
	}
	fmt.Fprintf(w, "seed        %s\n", c.seed)
	if c.committed {
		fmt.Fprintln(w, "            SHA-256(seed) = commitment: the seed was fixed before the opening")
	}
	if !c.done {
		return
	}
	if c.exact {
		fmt.Fprintf(w, "draw        %d entries: the seed orders them exactly as published\n", c.entries)
	}
	for _, p := range c.places {
		fmt.Fprintf(w, "your entry %s drew place %d of %d\n", p.entry, p.place, c.entries)
	}
	for _, p := range c.problems {
		fmt.Fprintln(w, "MISMATCH    "+p)
	}
	if len(c.problems) == 0 {
		fmt.Fprintln(w, "verified")
	}
}

func isEntryID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
