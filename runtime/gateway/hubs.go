package gateway

import "context"

// Emulate puts an inventory device in the emulated fleet as the inventory
// holds it: a Communications Hub put on the inventory by its delivery
// (runtime/hubsvc) rather than by a Service Request, so that it can join
// the SMWAN and be commissioned (para 185).
func (g *Gateway) Emulate(ctx context.Context, id string) error {
	d, err := g.st.GetDevice(ctx, id)
	if err != nil {
		return err
	}
	return g.refile(ctx, d)
}
