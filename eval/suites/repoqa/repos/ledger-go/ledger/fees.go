package ledger

// FeeSchedule describes what a transfer costs: a fixed part and a percentage in basis points.
type FeeSchedule struct {
	FixedCents  int64
	BasisPoints int64
	CapCents    int64
}

// ComputeFee returns the fee for a transfer of amount cents, rounded half up and capped.
func ComputeFee(s FeeSchedule, amount int64) int64 {
	variable := (amount*s.BasisPoints + 5000) / 10000
	fee := s.FixedCents + variable
	if s.CapCents > 0 && fee > s.CapCents {
		return s.CapCents
	}
	return fee
}

// FormatCents renders minor units as a decimal string such as "12.05".
func FormatCents(cents int64) string {
	sign := ""
	if cents < 0 {
		sign = "-"
		cents = -cents
	}
	return sign + itoa(cents/100) + "." + pad2(cents%100)
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	digits := []byte{}
	for v > 0 {
		digits = append([]byte{byte('0' + v%10)}, digits...)
		v /= 10
	}
	return string(digits)
}

func pad2(v int64) string {
	if v < 10 {
		return "0" + itoa(v)
	}
	return itoa(v)
}
