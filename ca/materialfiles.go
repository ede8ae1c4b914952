package ca

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.step.sm/crypto/keyutil"

	"github.com/certbound/certbound/certs"
)

// ReadMaterial reads the four CA files of dir (a data dir's ca directory) as
// they are, for `certbound db copy`. The root key is needed too: a copy
// moves the whole CA.
func ReadMaterial(dir string) (Material, error) {
	var m Material
	for _, name := range caFiles {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return Material{}, fmt.Errorf("ca: read the CA: %w", err)
		}
		*m.field(name) = data
	}
	return m, nil
}

// WriteMaterial writes m into dir as Bootstrap would (dir 0700, keys 0600,
// certificates 0644). It refuses a dir that holds any CA file (ErrExists).
func WriteMaterial(dir string, m Material) (err error) {
	if Exists(dir) {
		return fmt.Errorf("%w: %s", ErrExists, dir)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("ca: write the CA: %w", err)
	}
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
		}
	}()
	for _, f := range m.files() {
		p := filepath.Join(dir, f.name)
		if err := certs.WriteFileAtomic(p, f.data, f.mode); err != nil {
			return fmt.Errorf("ca: write the CA: %w", err)
		}
		written = append(written, p)
	}
	return nil
}

// Encrypted returns m with both keys encrypted with password: keys already
// encrypted must open with it (else ErrPassword) and are kept as they are;
// keys in the clear are encrypted. It also checks that m is a consistent CA
// (Check).
func (m Material) Encrypted(password []byte) (Material, error) {
	if len(password) == 0 {
		return Material{}, errors.New("ca: a CA password is required to encrypt the keys")
	}
	for _, name := range []string{RootKeyFile, IntermediateKeyFile} {
		data := m.field(name)
		signer, err := parseSigner(*data, name, password)
		if err != nil {
			return Material{}, err
		}
		if KeyEncrypted(*data) {
			continue
		}
		if *data, err = encodeKey(signer, password); err != nil {
			return Material{}, err
		}
	}
	if _, err := m.Check(password); err != nil {
		return Material{}, err
	}
	return m, nil
}

// Check loads m as New would, plus the root key — the root certificate,
// the intermediate signed by it, both keys opening with password and
// matching their certificates — and returns the root's fingerprint.
func (m Material) Check(password []byte) (rootFingerprint string, err error) {
	root, intermediate, signer, err := load(Config{Material: &m, Password: password})
	if err != nil {
		return "", err
	}
	if err := checkHierarchy(root, intermediate, signer, time.Now()); err != nil {
		return "", err
	}
	rootKey, err := parseSigner(m.RootKeyPEM, RootKeyFile, password)
	if err != nil {
		return "", err
	}
	if !keyutil.Equal(root.PublicKey, rootKey.Public()) {
		return "", fmt.Errorf("%w: root.key does not match root.crt", ErrInconsistent)
	}
	return certs.Fingerprint(root.Raw), nil
}
