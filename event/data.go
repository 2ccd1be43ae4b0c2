package event

import (
	"encoding/json"
	"time"
)

// The data of each type, version 1. Every object carries "v": the version
// of its type's data. Money is in won; dates are days YYYY-MM-DD; instants
// RFC 3339 UTC. docs/events.md has each one's JSON Schema.

// ConcertCreatedData is the data of ConcertCreated.
type ConcertCreatedData struct {
	V               int             `json:"v"`
	Title           string          `json:"title"`
	Venue           string          `json:"venue"`
	SalesOpenAt     time.Time       `json:"salesOpenAt"`
	Dates           []string        `json:"dates"`
	Seats           int             `json:"seats"` // every seat of every date
	HoldSeconds     int             `json:"holdSeconds"`
	MaxSeatsPerUser int             `json:"maxSeatsPerUser"`
	WaitingRoom     json.RawMessage `json:"waitingRoom"`
}

// WaitingRoomChangedData is the data of WaitingRoomChanged: the settings
// now in force and their version.
type WaitingRoomChangedData struct {
	V           int             `json:"v"`
	Version     int64           `json:"version"`
	WaitingRoom json.RawMessage `json:"waitingRoom"`
}

// BalanceChargedData is the data of BalanceCharged.
type BalanceChargedData struct {
	V        int    `json:"v"`
	UserID   string `json:"userId"`
	ChargeID string `json:"chargeId"`
	Amount   int64  `json:"amount"`
	Balance  int64  `json:"balance"` // right after the charge
}

// Seat is a seat of a reservation.
type Seat struct {
	Number int   `json:"number"`
	Price  int64 `json:"price"`
}

// SeatsHeldData is the data of SeatsHeld.
type SeatsHeldData struct {
	V             int       `json:"v"`
	ReservationID string    `json:"reservationId"`
	UserID        string    `json:"userId"`
	Date          string    `json:"date"`
	Seats         []Seat    `json:"seats"`
	Amount        int64     `json:"amount"`
	ExpiresAt     time.Time `json:"expiresAt"`
}

// HoldReleasedData is the data of HoldReleased.
type HoldReleasedData struct {
	V             int    `json:"v"`
	ReservationID string `json:"reservationId"`
	UserID        string `json:"userId"`
	Date          string `json:"date"`
	Seats         []int  `json:"seats"`
	Reason        string `json:"reason"` // CANCELLED, LEFT_QUEUE or LAPSED
}

// ReservationPaidData is the data of ReservationPaid.
type ReservationPaidData struct {
	V             int    `json:"v"`
	ReservationID string `json:"reservationId"`
	PaymentID     string `json:"paymentId"`
	UserID        string `json:"userId"`
	Date          string `json:"date"`
	Seats         []int  `json:"seats"`
	Amount        int64  `json:"amount"`
}

// SoldOutData is the data of SoldOut: every seat of every date is sold.
type SoldOutData struct {
	V int `json:"v"`
}

// LotteryPublishedData is the data of LotteryPublished: the opening's draw
// was made and its seed may be revealed.
type LotteryPublishedData struct {
	V       int       `json:"v"`
	DrawnAt time.Time `json:"drawnAt"`
	Entries int       `json:"entries"` // places in the draw
}
