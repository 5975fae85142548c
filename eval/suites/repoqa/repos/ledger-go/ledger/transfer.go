package ledger

import (
	"fmt"
	"time"
)

// Transfer moves money between two accounts of the same currency.
type Transfer struct {
	ID        string
	From      string
	To        string
	Amount    int64
	CreatedAt time.Time
	Reference string
}

// ExecuteTransfer debits the source and credits the destination atomically:
// if the credit fails, the debit is reversed. It returns the recorded Transfer.
func ExecuteTransfer(from, to *Account, amount int64, reference string, clock func() time.Time) (Transfer, error) {
	if from.Currency != to.Currency {
		return Transfer{}, fmt.Errorf("currency mismatch: %s vs %s", from.Currency, to.Currency)
	}
	if err := from.Debit(amount); err != nil {
		return Transfer{}, err
	}
	if err := to.Credit(amount); err != nil {
		_ = from.Credit(amount)
		return Transfer{}, err
	}
	return Transfer{
		ID:        NewTransferID(clock()),
		From:      from.ID,
		To:        to.ID,
		Amount:    amount,
		CreatedAt: clock(),
		Reference: reference,
	}, nil
}

// NewTransferID builds a sortable identifier from the time of the transfer.
func NewTransferID(t time.Time) string {
	return fmt.Sprintf("tr_%d", t.UnixNano())
}
