package main

import (
	"context"
	"time"

	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/queue"
)

// seedDemo fills an empty store with a few concerts to try the service
// with: one on sale now, one opening five minutes after start (to see the
// prequeue and the opening), one opening tomorrow. A store that has any
// concert is left alone.
func seedDemo(ctx context.Context, concerts *concert.Service, now time.Time) error {
	existing, err := concerts.Concerts(ctx)
	if err != nil || len(existing) > 0 {
		return err
	}
	kst := time.FixedZone("KST", 9*3600)
	day := func(daysAhead, hour int) time.Time {
		d := now.In(kst).AddDate(0, 0, daysAhead)
		return time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, kst)
	}
	room := func(perSecond float64) *queue.Settings {
		s := queue.DefaultSettings()
		s.AdmitPerSecond = perSecond
		return &s
	}
	specs := []concert.Spec{
		{
			Title: "Aurora — Live in Seoul", Venue: "KSPO Dome",
			Dates: []time.Time{day(30, 19), day(31, 19), day(32, 18)},
			Grades: []concert.GradeSpec{
				{Name: "VIP", Seats: "1-10", Price: 165000},
				{Name: "R", Seats: "11-30", Price: 132000},
				{Name: "S", Seats: "31-50", Price: 99000},
			},
			SalesOpenAt: now.Add(-time.Hour).Truncate(time.Minute), HoldSeconds: 300, MaxSeatsPerUser: 4,
			WaitingRoom: room(20),
		},
		{
			Title: "Midnight Orchestra", Venue: "Seoul Arts Center",
			Dates: []time.Time{day(45, 20), day(46, 20), day(52, 20), day(53, 17)},
			Grades: []concert.GradeSpec{
				{Name: "R", Seats: "1-20", Price: 120000},
				{Name: "S", Seats: "21-50", Price: 80000},
			},
			SalesOpenAt: now.Add(5 * time.Minute).Truncate(time.Minute), HoldSeconds: 300, MaxSeatsPerUser: 2,
			WaitingRoom: room(5),
		},
		{
			Title: "Indie Night at Rolling Hall", Venue: "Rolling Hall",
			Dates: []time.Time{day(20, 19), day(21, 19)},
			Grades: []concert.GradeSpec{
				{Name: "Standing A", Seats: "1-25", Price: 55000},
				{Name: "Standing B", Seats: "26-50", Price: 45000},
			},
			SalesOpenAt: now.Add(24 * time.Hour).Truncate(time.Hour), HoldSeconds: 180, MaxSeatsPerUser: 4,
			WaitingRoom: room(10),
		},
	}
	for _, spec := range specs {
		if _, err := concerts.Create(ctx, spec); err != nil {
			return err
		}
	}
	return nil
}
