package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

var _ store.CheckReader = (*Store)(nil)

// checkReadSQL reads a user, a device, the status of its hub and the
// registration record in effect for the device's MPxN in one row: the
// one-row select on the left keeps the row when neither exists. Its
// placeholders: the user's ID, the device's, and the time the record must
// be in effect at.
const checkReadSQL = `SELECT u.id, u.role, u.party, u.suspended, u.entered, u.cert_pem, u.last_counter,
	d.id, d.type, d.status, d.mpxn, d.chf, d.meter, d.credentials, d.updated_at, c.status,
	r.mpxn, r.effective_from, r.fuel, r.import_supplier, r.export_supplier, r.network_operator, r.postcode, r.premises, r.uprn
FROM (SELECT 1 AS one) AS x
LEFT JOIN users u ON u.id = ?
LEFT JOIN devices d ON d.id = ?
LEFT JOIN devices c ON d.chf <> '' AND c.id = d.chf
LEFT JOIN registrations r ON d.mpxn <> '' AND r.mpxn = d.mpxn AND r.effective_from = (SELECT MAX(r2.effective_from)
	FROM registrations r2 WHERE r2.mpxn = d.mpxn AND r2.effective_from <= ?)`

// ReadForChecks implements store.CheckReader in one statement.
func (s *Store) ReadForChecks(ctx context.Context, userID, deviceID string, at time.Time) (store.CheckRead, error) {
	atN, err := encTime(at)
	if err != nil {
		// Registrations fails for it, after the checks that come first.
		return store.CheckRead{}, fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
	}
	var (
		u                                           [4]sql.Null[string] // id, role, party, cert_pem
		uSuspended, uEntered                        sql.Null[bool]
		uCounter                                    sql.Null[int64]
		d                                           [7]sql.Null[string] // id, type, status, mpxn, chf, meter, credentials
		dUpdated                                    sql.Null[int64]
		cStatus                                     sql.Null[string]
		rMPxN, rFuel, rImp, rExp, rNO, rPC, rPr, rU sql.Null[string]
		rFrom                                       sql.Null[int64]
	)
	err = s.rdb.QueryRowContext(ctx, s.q(checkReadSQL), userID, deviceID, atN).Scan(
		&u[0], &u[1], &u[2], &uSuspended, &uEntered, &u[3], &uCounter,
		&d[0], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6], &dUpdated, &cStatus,
		&rMPxN, &rFrom, &rFuel, &rImp, &rExp, &rNO, &rPC, &rPr, &rU)
	if err != nil {
		return store.CheckRead{}, err
	}
	var out store.CheckRead
	if out.UserFound = u[0].Valid; out.UserFound {
		out.User = store.User{ID: u[0].V, Role: u[1].V, Party: u[2].V, Suspended: uSuspended.V, Entered: uEntered.V,
			CertPEM: u[3].V, LastCounter: decCounter(uCounter.V)}
	}
	if out.DeviceFound = d[0].Valid; out.DeviceFound {
		out.Device = store.Device{ID: d[0].V, Type: d[1].V, Status: d[2].V, MPxN: d[3].V, CHF: d[4].V, Meter: d[5].V,
			Credentials: d[6].V, UpdatedAt: decTime(dUpdated.V)}
	}
	out.CHFStatus = cStatus.V
	if rMPxN.Valid {
		out.Registrations = []store.Registration{{MPxN: rMPxN.V, EffectiveFrom: decTime(rFrom.V), Fuel: rFuel.V,
			ImportSupplier: rImp.V, ExportSupplier: rExp.V, NetworkOperator: rNO.V, Postcode: rPC.V, Premises: rPr.V, UPRN: rU.V}}
	}
	return out, nil
}
