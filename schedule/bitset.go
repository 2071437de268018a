package schedule

import "math/bits"

// bitset holds up to 256 small non-negative integers. Fields store value-min,
// so the 230 years 1970-2199 fit as well as 0-59.
type bitset [4]uint64

func (b *bitset) set(i int)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b *bitset) has(i int) bool { return i >= 0 && i < 256 && b[i>>6]&(1<<(uint(i)&63)) != 0 }

// next returns the smallest member >= i, or -1.
func (b *bitset) next(i int) int {
	if i < 0 {
		i = 0
	}
	for w := i >> 6; w < len(b); w++ {
		word := b[w]
		if w == i>>6 {
			word &= ^uint64(0) << (uint(i) & 63)
		}
		if word != 0 {
			return w<<6 + bits.TrailingZeros64(word)
		}
	}
	return -1
}

func (b *bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// members lists the members in increasing order.
func (b *bitset) members() []int {
	var out []int
	for i := b.next(0); i >= 0; i = b.next(i + 1) {
		out = append(out, i)
	}
	return out
}

// nextBit64 returns the smallest set bit of m at or above i, or -1.
func nextBit64(m uint64, i int) int {
	if i >= 64 {
		return -1
	}
	m &= ^uint64(0) << uint(i)
	if m == 0 {
		return -1
	}
	return bits.TrailingZeros64(m)
}

// asciiUpper and asciiLower change the case of ASCII letters only, so that
// byte offsets into the result are offsets into the input, whatever bytes
// (invalid UTF-8 included) it holds.
func asciiUpper(s string) string { return mapASCII(s, 'a', 'z', 'A'-'a') }
func asciiLower(s string) string { return mapASCII(s, 'A', 'Z', 'a'-'A') }

func mapASCII(s string, lo, hi byte, delta int) string {
	b := []byte(s)
	for i, c := range b {
		if c >= lo && c <= hi {
			b[i] = byte(int(c) + delta)
		}
	}
	return string(b)
}
