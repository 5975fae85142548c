package store

import (
	"fmt"
	"sync"

	"example.com/ledger/ledger"
)

// MemoryStore keeps accounts and transfers in memory, guarded by a mutex.
type MemoryStore struct {
	mu        sync.Mutex
	accounts  map[string]*ledger.Account
	transfers []ledger.Transfer
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{accounts: map[string]*ledger.Account{}}
}

// GetAccount looks an account up by id; it returns an error when the id is unknown.
func (s *MemoryStore) GetAccount(id string) (*ledger.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct, ok := s.accounts[id]
	if !ok {
		return nil, fmt.Errorf("unknown account %q", id)
	}
	return acct, nil
}

// PutAccount inserts or replaces an account.
func (s *MemoryStore) PutAccount(a *ledger.Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[a.ID] = a
}

// RecordTransfer appends a transfer to the journal.
func (s *MemoryStore) RecordTransfer(t ledger.Transfer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transfers = append(s.transfers, t)
}

// TransfersFor lists the transfers in which the account took part, oldest first.
func (s *MemoryStore) TransfersFor(id string) []ledger.Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ledger.Transfer
	for _, t := range s.transfers {
		if t.From == id || t.To == id {
			out = append(out, t)
		}
	}
	return out
}
