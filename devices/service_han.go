package devices

// Services 8, 9, 11 and 14: installation, the HAN, CIN, firmware and gas network data.

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

func commission(c *call) (map[string]any, error) {
	d := c.d
	if !d.Commissioned {
		d.Commissioned, d.CommissionedAt = true, c.now()
		d.logSecurity(c.now(), "COMMISSIONED", "by "+c.cmd.Sender)
	}
	d.ClockSyncedAt = c.now()
	return map[string]any{"commissioned": true, "time": rfc(c.now()), "mpxn": d.MPxN}, nil
}

// optOut is 8.5: the supplier takes the device out of the DCC. It holds the
// supplier's credential and no longer any of the DCC's.
func optOut(c *call) (map[string]any, error) {
	cert, err := c.str("certificate")
	if err != nil {
		return nil, err
	}
	c.d.ownCredentials()
	for _, k := range []string{CredAccessControlBroker, CredWANProvider, CredCoSParty} {
		delete(c.d.Credentials, k)
	}
	out := c.replaceCredential(CredSupplier, cert)
	c.d.Withdrawn = true
	out["withdrawn"] = true
	return out, nil
}

// deviceID reads a field naming another device.
func (c *call) deviceID(name string) (string, error) {
	id, err := c.str(name)
	if err != nil {
		return "", err
	}
	if c.f.eui64 != nil && !c.f.eui64.MatchString(id) {
		return "", devErr("field %s: %q is not a Device ID", name, id)
	}
	return id, nil
}

func join(c *call) (map[string]any, error) {
	other, err := c.deviceID("other_device")
	if err != nil {
		return nil, err
	}
	if other == c.d.ID {
		return nil, devErr("a device cannot join itself")
	}
	if !slices.Contains(c.d.Joined, other) {
		if len(c.d.Joined) >= maxHAN {
			return nil, devErr("the device already communicates with %d devices", maxHAN)
		}
		c.d.Joined = append(c.d.Joined, other)
		c.d.logEvent(c.now(), "JOINED", other)
	}
	return map[string]any{"joined": strList(c.d.Joined)}, nil
}

func unjoin(c *call) (map[string]any, error) {
	other, err := c.deviceID("other_device")
	if err != nil {
		return nil, err
	}
	i := slices.Index(c.d.Joined, other)
	if i >= 0 {
		c.d.Joined = slices.Delete(c.d.Joined, i, i+1)
		c.d.logEvent(c.now(), "UNJOINED", other)
	}
	return map[string]any{"was_joined": i >= 0, "joined": strList(c.d.Joined)}, nil
}

func deviceLogData(log []DeviceLogEntry) []any {
	out := make([]any, len(log))
	for i, e := range log {
		out[i] = map[string]any{"device": e.Device, "credential": e.Credential}
	}
	return out
}

func readDeviceLog(c *call) (map[string]any, error) {
	return map[string]any{"devices": deviceLogData(c.d.DeviceLog)}, nil
}

// updateDeviceLog is 8.11. Each added device is logged with its own
// certificate when it is in the fleet, or one derived from its ID.
func updateDeviceLog(c *call) (map[string]any, error) {
	add, err := c.strs("add")
	if err != nil {
		return nil, err
	}
	remove, err := c.strs("remove")
	if err != nil {
		return nil, err
	}
	for _, id := range slices.Concat(add, remove) {
		if c.f.eui64 != nil && !c.f.eui64.MatchString(id) {
			return nil, devErr("%q is not a Device ID", id)
		}
	}
	log := c.d.DeviceLog
	for _, id := range remove {
		log = slices.DeleteFunc(log, func(e DeviceLogEntry) bool { return e.Device == id })
		if o := c.f.devices[id]; o != nil && o.CHF == c.d.ID {
			o.CHF = "" // off the log, the hub no longer carries its Commands
		}
	}
	for _, id := range add {
		if slices.ContainsFunc(log, func(e DeviceLogEntry) bool { return e.Device == id }) {
			continue
		}
		if len(log) >= maxHAN {
			return nil, devErr("the Device Log is full (%d devices)", maxHAN)
		}
		cred := (&DeviceState{ID: id}).deviceCertificate("key_agreement")
		if o := c.f.devices[id]; o != nil {
			cred = o.deviceCertificate("key_agreement")
		}
		log = append(log, DeviceLogEntry{Device: id, Credential: cred})
		if o := c.f.devices[id]; o != nil && o.Type != TypeCHF && o.CHF == "" {
			o.CHF = c.d.ID // a device pre-notified on no hub joins this one (para 184)
		}
	}
	c.d.DeviceLog = log
	c.d.logEvent(c.now(), "DEVICE_LOG_UPDATED", fmt.Sprintf("+%d -%d by %s", len(add), len(remove), c.cmd.Sender))
	return map[string]any{"devices": deviceLogData(log)}, nil
}

func restoreDeviceLog(c *call) (map[string]any, error) {
	from, err := c.deviceID("from_chf")
	if err != nil {
		return nil, err
	}
	src := c.f.devices[from]
	if src == nil || src.Type != TypeCHF {
		return nil, devErr("no Device Log of a CHF %s to restore from", from)
	}
	c.d.DeviceLog = slices.Clone(src.DeviceLog)
	c.d.logEvent(c.now(), "DEVICE_LOG_RESTORED", "from "+from)
	return map[string]any{"from_chf": from, "devices": deviceLogData(c.d.DeviceLog)}, nil
}

func requestCIN(c *call) (map[string]any, error) {
	c.d.cins++
	cin := fmt.Sprintf("%04d", mix(c.d.seed^uint64(c.d.cins)<<32)%10000)
	c.d.CIN = cin
	c.d.Message = "CIN " + cin
	return map[string]any{"cin": cin}, nil
}

// updateFirmware is 11.1: the device stores one image besides the running
// one, so a new image replaces any other stored one.
func updateFirmware(c *call) (map[string]any, error) {
	version, err := c.str("version")
	if err != nil {
		return nil, err
	}
	image, err := c.str("image")
	if err != nil {
		return nil, err
	}
	if version == "" || image == "" {
		return nil, devErr("a firmware update needs a version and an image")
	}
	fw := &c.d.Firmware
	fw.keepOnly(fw.Version)
	h := imageHash(image)
	fw.set(version, h)
	c.d.logEvent(c.now(), "FIRMWARE_STORED", version)
	return map[string]any{"version": version, "sha256": h, "active": fw.Version}, nil
}

func readFirmware(c *call) (map[string]any, error) {
	fw := c.d.Firmware
	stored := map[string]any{}
	for _, im := range fw.Images {
		stored[im.Version] = im.SHA256
	}
	return map[string]any{"version": fw.Version, "images": stored}, nil
}

// activateFirmware is 11.3: the stored image named by its version or by
// its SHA-256 (DUIS names it so) becomes the running one.
func activateFirmware(c *call) (map[string]any, error) {
	version, err := c.optStr("version", "")
	if err != nil {
		return nil, err
	}
	sum, err := c.optStr("sha256", "")
	if err != nil {
		return nil, err
	}
	fw := &c.d.Firmware
	h, ok := fw.image(version)
	if version == "" {
		for _, im := range fw.Images {
			if strings.EqualFold(im.SHA256, sum) {
				version, h, ok = im.Version, im.SHA256, true
			}
		}
	}
	if !ok || (sum != "" && !strings.EqualFold(h, sum)) {
		return nil, devErr("no firmware image %q (SHA-256 %q) stored", version, sum)
	}
	prev := fw.Version
	fw.Version = version
	fw.keepOnly(version)
	c.d.logSecurity(c.now(), "FIRMWARE_ACTIVATED", prev+" -> "+version)
	return map[string]any{"version": version, "previous": prev, "sha256": h}, nil
}

func recordNetworkData(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	m.NetworkRecordingFrom = c.now()
	m.NetworkRecordingUntil = c.now().Add(networkRecording)
	return map[string]any{
		"from": rfc(m.NetworkRecordingFrom), "until": rfc(m.NetworkRecordingUntil),
		"interval_minutes": int64(networkInterval / time.Minute),
	}, nil
}
