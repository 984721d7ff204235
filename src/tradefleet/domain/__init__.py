"""Pure trading logic: no I/O, no adapters. Everything here is unit-testable in isolation."""
