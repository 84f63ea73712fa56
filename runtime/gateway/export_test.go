package gateway

import (
	"context"

	"github.com/dccgate/dccgate/runtime/store"
)

// CachedUser is user, for tests of the cache.
func (g *Gateway) CachedUser(ctx context.Context, id string) (store.User, error) {
	return g.user(ctx, id)
}
