/*
 * The bulk relocation loop of dynlink (toolchain/linker/native.py builds it with zig and
 * loads it with ctypes; toolchain/linker/bulk.py says what it is for).
 *
 * It applies a batch of sections' relocations with the same result as relocate.py's
 * per-section Python path: a section is applied wholly here, or marked "back" and left
 * untouched for that path, which also reports every error. Nothing is trusted: every
 * place, symbol index and value is checked before a byte is written.
 *
 * Inputs are the arrays of bulk.Batch: packed relocation entries; per section its entry
 * count and a row (start in buf, address, end in buf, first value, value count, value for
 * references into dropped code); the objects' symbol values and their symbols' GOT slots;
 * per relocation type a row (mode, S + A - P?, field size, lowest, highest).
 */
#include <stdint.h>

enum { MODE_BACK, MODE_SKIP, MODE_PLAIN, MODE_GOT };
enum { ROW_START, ROW_ADDR, ROW_END, ROW_VALUES, ROW_NVALUES, ROW_TOMB, ROW_WORDS };
enum { TYPE_MODE, TYPE_PC, TYPE_SIZE, TYPE_LOWEST, TYPE_HIGHEST, TYPE_WORDS };

#define SAFE ((int64_t)1 << 61)

struct entry {
	uint64_t offset;
	uint64_t type;
	uint64_t symbol;
	int64_t addend;
};

static uint64_t get_le(const uint8_t *p, int64_t size)
{
	uint64_t v = 0;
	for (int64_t i = size - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int64_t get_signed(const uint8_t *p, int64_t size)
{
	uint64_t v = get_le(p, size);
	int shift = (int)(64 - 8 * size);
	return (int64_t)(v << shift) >> shift;
}

static void put_le(uint8_t *p, int64_t size, uint64_t v)
{
	for (int64_t i = 0; i < size; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static struct entry read_entry(const uint8_t *rec, int64_t word, int64_t rela)
{
	struct entry e;
	if (word == 8) {
		uint64_t info = get_le(rec + 8, 8);
		e.offset = get_le(rec, 8);
		e.type = info & 0xffffffffu;
		e.symbol = info >> 32;
		e.addend = rela ? (int64_t)get_le(rec + 16, 8) : 0;
	} else {
		uint64_t info = get_le(rec + 4, 4);
		e.offset = get_le(rec, 4);
		e.type = info & 0xff;
		e.symbol = info >> 8;
		e.addend = rela ? get_signed(rec + 8, 4) : 0;
	}
	return e;
}

/*
 * First pass: check every entry and find S and A. S is left as the dropped-code marker
 * for references into dropped code; for GOT-relative types it is the address of the
 * symbol's slot (got0 + slots[value] * word). Entries whose S is Python's to give (a piece
 * of merged strings, found by its addend) are listed in fix_entry/fix_section/fix_symbol.
 * Returns how many were listed, or -1 when a section's row is inconsistent with the arrays.
 */
int64_t dyn_bulk_prepare(const uint8_t *records, int64_t word, int64_t rela, int64_t nsections,
			 const int64_t *counts, const int64_t *rows, const int64_t *values, int64_t nvalues,
			 const int64_t *slots, int64_t nslots, int64_t got0, const int64_t *types, int64_t ntypes,
			 const uint8_t *buf, int64_t buflen, int64_t merged_marker, int64_t dropped_marker,
			 int8_t *back, int64_t *S, int64_t *A, int64_t *fix_entry, int64_t *fix_section,
			 int64_t *fix_symbol)
{
	const int64_t entry_size = word == 8 ? (rela ? 24 : 16) : (rela ? 12 : 8);
	int64_t nfix = 0, first = 0;
	for (int64_t s = 0; s < nsections; s++) {
		const int64_t *row = rows + s * ROW_WORDS;
		const int64_t count = counts[s], start = row[ROW_START], end = row[ROW_END];
		const int64_t vbase = row[ROW_VALUES], nvals = row[ROW_NVALUES];
		const int64_t fixes_before = nfix;
		const uint8_t *rec = records + first * entry_size;
		uint64_t prev_end = 0;
		back[s] = 0;
		if (count < 0 || start < 0 || end < start || end > buflen || vbase < 0 || nvals < 0 ||
		    vbase > nvalues - nvals)
			return -1;
		if (row[ROW_ADDR] < 0 || row[ROW_ADDR] >= SAFE || end - start >= SAFE) {
			back[s] = 1; /* S + A - P might not fit in 64 bits */
			first += count;
			continue;
		}
		for (int64_t k = 0; k < count; k++, rec += entry_size) {
			const int64_t i = first + k;
			struct entry e = read_entry(rec, word, rela);
			const int64_t *t;
			int64_t size, sym_value, addend = e.addend;
			uint64_t length = (uint64_t)(end - start);
			if (e.type >= (uint64_t)ntypes)
				goto section_back;
			t = types + e.type * TYPE_WORDS;
			if (t[TYPE_MODE] == MODE_BACK)
				goto section_back;
			size = t[TYPE_MODE] >= MODE_PLAIN ? t[TYPE_SIZE] : 0;
			if (e.offset > length || (uint64_t)size > length - e.offset)
				goto section_back;
			if (k > 0 && e.offset < prev_end)
				goto section_back; /* fields out of order or overlapping */
			prev_end = e.offset + (uint64_t)size;
			if (e.symbol >= (uint64_t)nvals)
				goto section_back;
			sym_value = values[vbase + (int64_t)e.symbol];
			if (!rela && size > 0) {
				if (size != 1 && size != 2 && size != 4 && size != 8)
					goto section_back;
				addend = get_signed(buf + start + (int64_t)e.offset, size);
			}
			if (addend >= SAFE || addend <= -SAFE || sym_value >= SAFE)
				goto section_back;
			if (sym_value < 0 && sym_value != merged_marker && sym_value != dropped_marker)
				goto section_back; /* an import: the output decides */
			if (t[TYPE_MODE] == MODE_GOT && sym_value != dropped_marker) {
				int64_t at = vbase + (int64_t)e.symbol;
				int64_t slot = slots && at < nslots ? slots[at] : -1;
				if (slot < 0 || slot > (SAFE - got0) / word)
					goto section_back;
				sym_value = got0 + slot * word;
			}
			S[i] = sym_value;
			A[i] = addend;
			if (sym_value == merged_marker) {
				fix_entry[nfix] = i;
				fix_section[nfix] = s;
				fix_symbol[nfix] = (int64_t)e.symbol;
				nfix++;
			}
		}
		first += count;
		continue;
section_back:
		back[s] = 1;
		nfix = fixes_before;
		first += count;
	}
	return nfix;
}

/*
 * Second pass, once S holds every listed entry's value: compute S + A (- P), check that it
 * fits its field, and write the fields of each section whose values all fit (the others
 * are marked back). References into dropped code get the section's tomb value.
 */
void dyn_bulk_apply(const uint8_t *records, int64_t word, int64_t rela, int64_t nsections, const int64_t *counts,
		    const int64_t *rows, const int64_t *types, uint8_t *buf, int64_t dropped_marker, int8_t *back,
		    const int64_t *S, const int64_t *A)
{
	const int64_t entry_size = word == 8 ? (rela ? 24 : 16) : (rela ? 12 : 8);
	int64_t first = 0;
	for (int64_t s = 0; s < nsections; first += counts[s], s++) {
		const int64_t *row = rows + s * ROW_WORDS;
		if (back[s])
			continue;
		for (int pass = 0; pass < 2 && !back[s]; pass++) {
			const uint8_t *rec = records + first * entry_size;
			for (int64_t k = 0; k < counts[s]; k++, rec += entry_size) {
				const int64_t i = first + k;
				struct entry e = read_entry(rec, word, rela);
				const int64_t *t = types + e.type * TYPE_WORDS; /* checked by dyn_bulk_prepare */
				int64_t v;
				if (t[TYPE_MODE] < MODE_PLAIN)
					continue;
				if (S[i] == dropped_marker)
					v = row[ROW_TOMB];
				else if (S[i] >= SAFE || S[i] <= -SAFE)
					v = INT64_MAX; /* a value Python gave that is out of range: does not fit */
				else
					v = S[i] + A[i] - (t[TYPE_PC] ? row[ROW_ADDR] + (int64_t)e.offset : 0);
				if (pass == 0) {
					if (v < t[TYPE_LOWEST] || v > t[TYPE_HIGHEST]) {
						back[s] = 1;
						break;
					}
				} else {
					put_le(buf + row[ROW_START] + (int64_t)e.offset, t[TYPE_SIZE], (uint64_t)v);
				}
			}
		}
	}
}
