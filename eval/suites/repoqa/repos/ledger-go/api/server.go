package api

import (
	"encoding/json"
	"net/http"
	"time"

	"example.com/ledger/ledger"
	"example.com/ledger/store"
)

// Server exposes the ledger over HTTP.
type Server struct {
	Store   *store.MemoryStore
	Fees    ledger.FeeSchedule
	Limiter *RateLimiter
}

type transferRequest struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Amount    int64  `json:"amount"`
	Reference string `json:"reference"`
}

// HandleTransfer decodes a transfer request, charges the fee and executes the transfer.
func (s *Server) HandleTransfer(w http.ResponseWriter, r *http.Request) {
	if !s.Limiter.Allow(r.RemoteAddr) {
		http.Error(w, "rate limit exceeded", http.StatusTooManyRequests)
		return
	}
	var req transferRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	from, err := s.Store.GetAccount(req.From)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	to, err := s.Store.GetAccount(req.To)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	fee := ledger.ComputeFee(s.Fees, req.Amount)
	t, err := ledger.ExecuteTransfer(from, to, req.Amount+fee, req.Reference, time.Now)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	s.Store.RecordTransfer(t)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(t)
}

// HandleBalance writes an account's balance as JSON.
func (s *Server) HandleBalance(w http.ResponseWriter, r *http.Request) {
	acct, err := s.Store.GetAccount(r.URL.Query().Get("id"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"balance": ledger.FormatCents(acct.BalanceCents)})
}

// Routes registers the handlers on a new ServeMux.
func (s *Server) Routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/transfer", s.HandleTransfer)
	mux.HandleFunc("/balance", s.HandleBalance)
	return mux
}
