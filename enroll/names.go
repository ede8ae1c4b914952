package enroll

import "encoding/asn1"

var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

// asksForCA reports whether a DER basicConstraints value has cA = TRUE.
// Undecodable values count as asking: better refused than guessed.
func asksForCA(der []byte) bool {
	var bc struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}
	rest, err := asn1.Unmarshal(der, &bc)
	return err != nil || len(rest) > 0 || bc.IsCA
}
