package storetest

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/wallet"
)

// RunWalletStore checks that the stores newStore returns keep the contract
// of wallet.Store. newStore must return a fresh, empty store each call.
func RunWalletStore(t *testing.T, newStore func(t *testing.T) wallet.Store) {
	run := storeRunner(t, newStore)
	t.Run("CreateUser", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("OK", testCreateUserOK)
	})
	run("UnknownUser", testUnknownUser)
	t.Run("EnsureUser", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("OK", testEnsureUserOK)
		run("OfCreatedUser", testEnsureUserOfCreatedUser)
	})
	t.Run("Charge", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("OK", testChargeOK)
		run("UpToMaxBalance", testChargeUpToMaxBalance)
		run("ErrInvalidRequest", testChargeErrInvalidRequest)
		run("CancelledIsNotRemembered", testChargeCancelledIsNotRemembered)
		run("ErrInvalidRequest/NoOverflow", testChargeErrInvalidRequestNoOverflow)
		run("Replay", testChargeReplay)
		run("ErrIdempotencyKeyReused", testChargeErrIdempotencyKeyReused)
		run("KeysBelongToOneUser", testChargeKeysBelongToOneUser)
	})
	t.Run("History", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("Paging", testHistoryPaging)
		run("MalformedCursor", testHistoryMalformedCursor)
		run("ErrOtherUsersCursor", testHistoryErrOtherUsersCursor)
	})
	t.Run("Race", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("EnsureUser", testRaceEnsureUser)
		run("Charges", testRaceCharges)
		run("ChargesWithOneKey", testRaceChargesWithOneKey)
		run("ChargesToTheCap", testRaceChargesToTheCap)
	})
}

// walletMaxBalance is the cap of the suite's charges.
var walletMaxBalance = wallet.DefaultLimits().MaxBalance

// walletCharge charges amount to userID's wallet under key (none when "")
// at now, with a new charge id, within walletMaxBalance.
func walletCharge(s wallet.Store, userID string, amount boxoffice.Money, key string, now time.Time) (wallet.Receipt, error) {
	return s.Charge(context.Background(), wallet.ChargeRequest{
		ChargeID: boxoffice.NewID(), UserID: userID, Amount: amount,
		MaxBalance: walletMaxBalance, IdempotencyKey: key, Now: now,
	})
}

func testCreateUserOK(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	want, err := wallet.NewUser(newUserID(), "  Kim Minji ", BaseTime.Add(time.Minute))
	noErr(t, "NewUser", err)
	noErr(t, "CreateUser", s.CreateUser(ctx, want))
	got, err := s.User(ctx, want.ID)
	noErr(t, "User", err)
	if got.ID != want.ID || got.Name != want.Name || !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("User: got %+v, want %+v in UTC", got, want)
	}
	if b := balanceOf(t, s, want.ID); b != 0 {
		t.Errorf("Balance: got %d, want 0", b)
	}
	h, err := s.History(ctx, want.ID, "", wallet.MaxHistory)
	noErr(t, "History", err)
	if len(h) != 0 {
		t.Errorf("History: got %d entries, want 0", len(h))
	}
}

func testUnknownUser(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	createUser(t, s, 100)
	for _, id := range []string{newUserID(), boxoffice.NewID(), "auth0|abc", ""} {
		_, err := s.User(ctx, id)
		wantErr(t, "User", err, boxoffice.ErrNotFound)
		if b := balanceOf(t, s, id); b != 0 {
			t.Errorf("Balance(%q): got %d, want 0", id, b)
		}
		h, err := s.History(ctx, id, "", 10)
		noErr(t, "History", err)
		if len(h) != 0 {
			t.Errorf("History(%q): got %d entries, want 0", id, len(h))
		}
		_, err = walletCharge(s, id, 100, "", BaseTime)
		wantErr(t, "Charge", err, boxoffice.ErrNotFound)
	}
}

func testEnsureUserOK(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	u := wallet.User{ID: "auth0|" + boxoffice.NewID(), Name: "Kim", CreatedAt: BaseTime}
	noErr(t, "EnsureUser", s.EnsureUser(ctx, u))
	if b := balanceOf(t, s, u.ID); b != 0 {
		t.Errorf("Balance after EnsureUser: got %d, want 0", b)
	}
	r, err := walletCharge(s, u.ID, 500, "k", BaseTime)
	noErr(t, "Charge", err)
	if r.Balance != 500 {
		t.Errorf("first charge: got balance %d, want 500", r.Balance)
	}
	// Again, with another name: the user and the wallet stay as they are.
	noErr(t, "EnsureUser", s.EnsureUser(ctx, wallet.User{ID: u.ID, Name: "Lee", CreatedAt: BaseTime.Add(time.Hour)}))
	if b := balanceOf(t, s, u.ID); b != 500 {
		t.Errorf("Balance after a second EnsureUser: got %d, want 500", b)
	}
	got, err := s.User(ctx, u.ID)
	noErr(t, "User", err)
	if got.Name != "Kim" || !got.CreatedAt.Equal(BaseTime) {
		t.Errorf("User after a second EnsureUser: got %+v, want %+v", got, u)
	}
	if h := fullHistory(t, s, u.ID); len(h) != 1 {
		t.Errorf("History: got %d entries, want 1", len(h))
	}
}

func testEnsureUserOfCreatedUser(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	id := createUser(t, s, 300)
	noErr(t, "EnsureUser", s.EnsureUser(ctx, wallet.User{ID: id, Name: "Lee", CreatedAt: BaseTime}))
	if b := balanceOf(t, s, id); b != 300 {
		t.Errorf("Balance: got %d, want 300", b)
	}
}

func testRaceEnsureUser(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	id := "auth0|" + boxoffice.NewID()
	together(50, func(int) {
		if err := s.EnsureUser(ctx, wallet.User{ID: id, Name: "Kim", CreatedAt: BaseTime}); err != nil {
			t.Errorf("EnsureUser: %v", err)
		}
	})
	if b := balanceOf(t, s, id); b != 0 {
		t.Errorf("Balance: got %d, want 0", b)
	}
}

func testChargeOK(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	u := createUser(t, s, 0)
	req := wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: u, Amount: 50_000,
		MaxBalance: walletMaxBalance, Now: BaseTime.Add(time.Second)}
	r, err := s.Charge(ctx, req)
	noErr(t, "Charge", err)
	want := wallet.Receipt{ChargeID: req.ChargeID, UserID: u, Amount: 50_000, Balance: 50_000, At: req.Now}
	if !sameReceipt(r, want) || r.At.Location() != time.UTC {
		t.Errorf("Charge: got %+v, want %+v", r, want)
	}
	r, err = walletCharge(s, u, 25_000, "", BaseTime.Add(2*time.Second))
	noErr(t, "Charge", err)
	if r.Balance != 75_000 {
		t.Errorf("second Charge: got balance %d, want 75000", r.Balance)
	}
	if b := balanceOf(t, s, u); b != 75_000 {
		t.Errorf("Balance: got %d, want 75000", b)
	}
	h := fullHistory(t, s, u)
	if len(h) != 2 {
		t.Fatalf("History: got %d entries, want 2", len(h))
	}
	wantEntry := wallet.Entry{ID: req.ChargeID, UserID: u, Kind: wallet.Charge, Amount: 50_000, BalanceAfter: 50_000, At: req.Now}
	if !sameEntry(h[1], wantEntry) || h[1].At.Location() != time.UTC {
		t.Errorf("History[1]: got %+v, want %+v", h[1], wantEntry)
	}
}

func testChargeUpToMaxBalance(t *testing.T, s wallet.Store) {
	u := createUser(t, s, walletMaxBalance-10)
	_, err := walletCharge(s, u, 11, "", BaseTime)
	wantErr(t, "Charge past the cap", err, boxoffice.ErrInvalidRequest)
	if b := balanceOf(t, s, u); b != walletMaxBalance-10 {
		t.Errorf("Balance after refused charge: got %d, want %d", b, walletMaxBalance-10)
	}
	if h := fullHistory(t, s, u); len(h) != 1 {
		t.Errorf("History after refused charge: got %d entries, want 1", len(h))
	}
	r, err := walletCharge(s, u, 10, "", BaseTime)
	noErr(t, "Charge up to the cap", err)
	if r.Balance != walletMaxBalance {
		t.Errorf("Charge up to the cap: got balance %d, want %d", r.Balance, walletMaxBalance)
	}
}

func testChargeErrInvalidRequest(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	u := createUser(t, s, 0)
	_, first := s.Charge(ctx, wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: u, Amount: 1000,
		MaxBalance: 999, IdempotencyKey: "k", Now: BaseTime})
	wantErr(t, "Charge", first, boxoffice.ErrInvalidRequest)
	if b := balanceOf(t, s, u); b != 0 {
		t.Errorf("Balance: got %d, want 0", b)
	}
	// The refusal is the key's answer: a retry of the same charge gets
	// it again even where it would now pass; another amount is a reuse.
	_, err := walletCharge(s, u, 1000, "k", BaseTime.Add(time.Second))
	if err == nil || err.Error() != first.Error() {
		t.Errorf("Charge retried with the key of a refused charge: got %v, want the first answer %v", err, first)
	}
	_, err = walletCharge(s, u, 2000, "k", BaseTime)
	wantErr(t, "Charge of another amount with the key of a refused charge", err, boxoffice.ErrIdempotencyKeyReused)
	if b := balanceOf(t, s, u); b != 0 {
		t.Errorf("Balance: got %d, want 0", b)
	}
	// Keys are per user, and another key is another charge.
	other := createUser(t, s, 0)
	_, err = walletCharge(s, other, 1000, "k", BaseTime)
	noErr(t, "Charge by another user with the same key", err)
	_, err = walletCharge(s, u, 1000, "k2", BaseTime)
	noErr(t, "Charge with another key", err)
}

func testChargeCancelledIsNotRemembered(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	u := createUser(t, s, 0)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Charge(cancelled, wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: u, Amount: 1000,
		MaxBalance: walletMaxBalance, IdempotencyKey: "k", Now: BaseTime})
	if err == nil {
		t.Fatalf("Charge with a cancelled context: got no error, want one")
	}
	r, err := walletCharge(s, u, 1000, "k", BaseTime)
	noErr(t, "Charge retried after a cancelled attempt", err)
	if r.Balance != 1000 {
		t.Errorf("Charge retried: got balance %d, want 1000", r.Balance)
	}
}

// A cap past any configurable one: balance + amount would not fit
// in 64 bits, and the store must refuse rather than wrap or fail.
func testChargeErrInvalidRequestNoOverflow(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	u := createUser(t, s, 0)
	top := boxoffice.Money(math.MaxInt64)
	_, err := s.Charge(ctx, wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: u,
		Amount: top - 5, MaxBalance: top, Now: BaseTime})
	noErr(t, "Charge to near the largest int64", err)
	_, err = s.Charge(ctx, wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: u,
		Amount: 10, MaxBalance: top, IdempotencyKey: "over", Now: BaseTime})
	wantErr(t, "Charge past the largest int64", err, boxoffice.ErrInvalidRequest)
	if b := balanceOf(t, s, u); b != top-5 {
		t.Errorf("Balance: got %d, want %d", b, top-5)
	}
	r, err := s.Charge(ctx, wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: u,
		Amount: 5, MaxBalance: top, Now: BaseTime})
	noErr(t, "Charge up to the largest int64", err)
	if r.Balance != top {
		t.Errorf("Charge up to the largest int64: got balance %d, want %d", r.Balance, top)
	}
}

func testChargeReplay(t *testing.T, s wallet.Store) {
	u := createUser(t, s, 0)
	first, err := walletCharge(s, u, 30_000, "charge-1", BaseTime.Add(time.Second))
	noErr(t, "Charge", err)
	_, err = walletCharge(s, u, 5_000, "", BaseTime.Add(2*time.Second))
	noErr(t, "Charge", err)
	again, err := walletCharge(s, u, 30_000, "charge-1", BaseTime.Add(3*time.Second))
	noErr(t, "Charge replayed", err)
	if !sameReceipt(again, first) {
		t.Errorf("Charge replayed: got %+v, want the first receipt %+v", again, first)
	}
	if b := balanceOf(t, s, u); b != 35_000 {
		t.Errorf("Balance: got %d, want 35000", b)
	}
	if h := fullHistory(t, s, u); len(h) != 2 {
		t.Errorf("History: got %d entries, want 2", len(h))
	}
}

func testChargeErrIdempotencyKeyReused(t *testing.T, s wallet.Store) {
	u := createUser(t, s, 0)
	_, err := walletCharge(s, u, 30_000, "charge-1", BaseTime)
	noErr(t, "Charge", err)
	_, err = walletCharge(s, u, 30_001, "charge-1", BaseTime)
	wantErr(t, "Charge with a reused key", err, boxoffice.ErrIdempotencyKeyReused)
	if b := balanceOf(t, s, u); b != 30_000 {
		t.Errorf("Balance: got %d, want 30000", b)
	}
	if h := fullHistory(t, s, u); len(h) != 1 {
		t.Errorf("History: got %d entries, want 1", len(h))
	}
}

func testChargeKeysBelongToOneUser(t *testing.T, s wallet.Store) {
	a, b := createUser(t, s, 0), createUser(t, s, 0)
	ra, err := walletCharge(s, a, 1000, "same", BaseTime)
	noErr(t, "Charge a", err)
	rb, err := walletCharge(s, b, 2000, "same", BaseTime)
	noErr(t, "Charge b", err)
	if ra.ChargeID == rb.ChargeID || rb.Balance != 2000 {
		t.Errorf("Charge b: got %+v, want a new charge of 2000", rb)
	}
}

func testHistoryPaging(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	u := createUser(t, s, 0)
	var want []wallet.Entry // newest first
	var balance boxoffice.Money
	for i := 1; i <= 5; i++ {
		r, err := walletCharge(s, u, boxoffice.Money(i*100), "", BaseTime.Add(time.Duration(i)*time.Second))
		noErr(t, "Charge", err)
		balance += boxoffice.Money(i * 100)
		want = append([]wallet.Entry{{ID: r.ChargeID, UserID: u, Kind: wallet.Charge,
			Amount: boxoffice.Money(i * 100), BalanceAfter: balance, At: r.At}}, want...)
	}
	var got []wallet.Entry
	before := ""
	for _, size := range []int{2, 2, 1, 0} {
		page, err := s.History(ctx, u, before, 2)
		noErr(t, "History", err)
		if len(page) != size {
			t.Fatalf("History page after %q: got %d entries, want %d", before, len(page), size)
		}
		got = append(got, page...)
		if size > 0 {
			before = page[len(page)-1].ID
		}
	}
	for i := range want {
		if !sameEntry(got[i], want[i]) {
			t.Errorf("History[%d]: got %+v, want %+v", i, got[i], want[i])
		}
	}
	page, err := s.History(ctx, u, "", 3)
	noErr(t, "History", err)
	if len(page) != 3 || !sameEntry(page[0], want[0]) {
		t.Errorf("History with limit 3: got %+v, want the 3 newest entries", page)
	}
}

func testHistoryMalformedCursor(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	u := createUser(t, s, 1000)
	_, err := s.History(ctx, u, "not-a-uuid", 10)
	wantErr(t, "History", err, boxoffice.ErrInvalidRequest)
}

func testHistoryErrOtherUsersCursor(t *testing.T, s wallet.Store) {
	ctx := context.Background()
	u, other := createUser(t, s, 1000), createUser(t, s, 1000)
	h := fullHistory(t, s, other)
	_, err := s.History(ctx, u, h[0].ID, 10)
	wantErr(t, "History", err, boxoffice.ErrInvalidRequest)
	_, err = s.History(ctx, u, boxoffice.NewID(), 10)
	wantErr(t, "History", err, boxoffice.ErrInvalidRequest)
}

func testRaceCharges(t *testing.T, s wallet.Store) {
	u := createUser(t, s, 0)
	const n = 50
	together(n, func(i int) {
		if _, err := walletCharge(s, u, boxoffice.Money(i+1), "", BaseTime); err != nil {
			t.Errorf("Charge %d: got error %v, want none", i, err)
		}
	})
	if b := balanceOf(t, s, u); b != n*(n+1)/2 {
		t.Errorf("Balance: got %d, want %d", b, n*(n+1)/2)
	}
	h := fullHistory(t, s, u)
	if len(h) != n {
		t.Errorf("History: got %d entries, want %d", len(h), n)
	}
	checkMoney(t, Stores{Wallets: s}, []string{u})
}

func testRaceChargesWithOneKey(t *testing.T, s wallet.Store) {
	u := createUser(t, s, 0)
	const n = 20
	receipts := make([]wallet.Receipt, n)
	together(n, func(i int) {
		r, err := walletCharge(s, u, 7_000, "one-key", BaseTime)
		if err != nil {
			t.Errorf("Charge %d: got error %v, want none", i, err)
		}
		receipts[i] = r
	})
	for i, r := range receipts {
		if !sameReceipt(r, receipts[0]) {
			t.Errorf("receipt %d: got %+v, want %+v like the others", i, r, receipts[0])
		}
	}
	if b := balanceOf(t, s, u); b != 7_000 {
		t.Errorf("Balance: got %d, want 7000", b)
	}
	if h := fullHistory(t, s, u); len(h) != 1 {
		t.Errorf("History: got %d entries, want 1", len(h))
	}
	checkMoney(t, Stores{Wallets: s}, []string{u})
}

func testRaceChargesToTheCap(t *testing.T, s wallet.Store) {
	u := createUser(t, s, walletMaxBalance-5_000)
	const n = 20
	var ok [n]bool
	together(n, func(i int) {
		_, err := walletCharge(s, u, 1_000, fmt.Sprintf("cap-%d", i), BaseTime)
		switch {
		case err == nil:
			ok[i] = true
		case boxoffice.ErrorCode(err) != boxoffice.CodeInvalidRequest:
			t.Errorf("Charge %d: got error %v, want none or %s", i, err, boxoffice.CodeInvalidRequest)
		}
	})
	wins := 0
	for _, o := range ok {
		if o {
			wins++
		}
	}
	if wins != 5 {
		t.Errorf("charges accepted: got %d, want 5", wins)
	}
	if b := balanceOf(t, s, u); b != walletMaxBalance {
		t.Errorf("Balance: got %d, want %d", b, walletMaxBalance)
	}
	checkMoney(t, Stores{Wallets: s}, []string{u})
}
