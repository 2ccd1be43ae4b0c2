package postgres

// RegisterTypes is registerTypes, for the tests of package postgres_test.
var RegisterTypes = registerTypes
