package hubs

import (
	"fmt"
	"math"
)

// AddQuantity adds the quantity of an order line to the order's total so
// far: a line orders one hub or more, and the lines of an order add up to
// no more than the largest int, so that no count of hubs ordered wraps.
func AddQuantity(total, q int) (int, error) {
	if q <= 0 {
		return total, fmt.Errorf("quantity %d: a line orders one hub or more", q)
	}
	if total > math.MaxInt-q {
		return total, fmt.Errorf("quantity %d: the lines add up to more than %d hubs", q, math.MaxInt)
	}
	return total + q, nil
}
