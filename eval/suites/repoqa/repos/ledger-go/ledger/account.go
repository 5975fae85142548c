package ledger

import (
	"errors"
	"fmt"
)

// ErrInsufficientFunds is returned when a debit would take an account below its overdraft limit.
var ErrInsufficientFunds = errors.New("insufficient funds")

// Account holds a balance in minor units (cents) and an overdraft limit.
type Account struct {
	ID             string
	Owner          string
	Currency       string
	BalanceCents   int64
	OverdraftCents int64
	Frozen         bool
}

// Debit removes amount from the account, honouring the overdraft limit.
func (a *Account) Debit(amount int64) error {
	if a.Frozen {
		return fmt.Errorf("account %s is frozen", a.ID)
	}
	if amount <= 0 {
		return fmt.Errorf("debit amount must be positive, got %d", amount)
	}
	if a.BalanceCents-amount < -a.OverdraftCents {
		return ErrInsufficientFunds
	}
	a.BalanceCents -= amount
	return nil
}

// Credit adds amount to the account.
func (a *Account) Credit(amount int64) error {
	if amount <= 0 {
		return fmt.Errorf("credit amount must be positive, got %d", amount)
	}
	a.BalanceCents += amount
	return nil
}

// Available is the amount that can still be debited, overdraft included.
func (a *Account) Available() int64 {
	return a.BalanceCents + a.OverdraftCents
}
