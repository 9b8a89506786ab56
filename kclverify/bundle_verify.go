package main

// Verifying an export bundle offline (port of app/services/bundle_verify.py
// and app/bundle_workers.py):
//
//  1. Open the bundle (a zip or a directory) without trusting it (format
//     §15.2): only the v1 members, plain top-level names, no links, no
//     duplicates, no encrypted or exotic members, declared sizes within
//     limits and plausible compression ratios, no overlapping zip members.
//     Anything else is unusable input (exit 2).
//  2. The log key: --vkey if given (pinned), else the bundle's log.vkey.
//  3. The checkpoint note: signed by the log key, cosigned by at least the
//     required number of trusted witnesses.
//  4. entries.jsonl (with proofs.jsonl for a partial bundle) is streamed: a
//     reader goroutine splits it into chunks of lines, worker goroutines
//     prepare each entry (parse, schema, signatures, inclusion proof), and
//     the LogVerifier replays them strictly in input order. A bounded number
//     of chunks is in flight, so memory holds the replay state, not the bundle.

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"
)

const (
	tlBlock = 1 << 20
	// A member larger than this must not claim to compress better than MAX_RATIO (zip bombs).
	tlRatioFloor = 1 << 20
	MAX_RATIO    = 200
	// CHUNK is the number of entry lines per unit of work.
	CHUNK = 512
)

// --------------------------------------------------------------------------
// Opening a bundle safely

// blockReader yields a member's bytes in fresh blocks (never reused); nil, nil at the end.
type blockReader interface {
	Next() ([]byte, error)
	Close()
}

type bundleSource interface {
	Layout() Layout
	ReadSmall(name string, limit int) ([]byte, error)
	Blocks(name string) (blockReader, error)
	Close()
}

// zipMember is what Python's zipfile knows of a central directory record.
type zipMember struct {
	Filename      string // decoded, cut at NUL (ZipInfo.filename)
	OrigFilename  string // decoded, not cut (ZipInfo.orig_filename)
	CreateSystem  byte
	FlagBits      uint16
	CompressType  uint16
	CRC           uint32
	CompressSize  uint64
	FileSize      uint64
	HeaderOffset  int64
	ExternalAttr  uint32
	ExtractVer    byte
	file          *zip.File
	headerChecked bool
}

type ZipSource struct {
	path    string
	f       *os.File
	size    int64
	members []*zipMember
	byName  map[string]*zipMember
	layout  Layout
}

const cp437High = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0"

var cp437Table = []rune(cp437High)

// zipName decodes a file name as zipfile does: UTF-8 with flag 0x800, else cp437.
func zipName(raw []byte, flags uint16) (string, error) {
	if flags&0x800 != 0 {
		if !utf8.Valid(raw) {
			return "", errors.New("'utf-8' codec can't decode the file name")
		}
		return string(raw), nil
	}
	var b strings.Builder
	for _, c := range raw {
		if c < 0x80 {
			b.WriteByte(c)
		} else {
			b.WriteRune(cp437Table[c-0x80])
		}
	}
	return b.String(), nil
}

func readAt(f *os.File, off int64, n int) ([]byte, error) {
	if off < 0 {
		return nil, errors.New("negative offset")
	}
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:got], nil
}

// zipCentralDirectory reads the central directory as Python's zipfile does
// (_EndRecData, _RealGetContents, _decodeExtra), for the header offsets and
// the fields its checks use.
func zipCentralDirectory(f *os.File, filesize int64) ([]*zipMember, error) {
	const sizeEndCentDir = 22
	notZip := errors.New("File is not a zip file")
	if filesize < sizeEndCentDir {
		return nil, notZip
	}
	var rec []byte
	var location int64
	tail, err := readAt(f, filesize-sizeEndCentDir, sizeEndCentDir)
	if err != nil {
		return nil, err
	}
	if len(tail) == sizeEndCentDir && string(tail[:4]) == "PK\x05\x06" && tail[20] == 0 && tail[21] == 0 {
		rec, location = tail, filesize-sizeEndCentDir
	} else {
		start := filesize - (1 << 16) - sizeEndCentDir
		if start < 0 {
			start = 0
		}
		data, err := readAt(f, start, int(filesize-start))
		if err != nil {
			return nil, err
		}
		at := bytes.LastIndex(data, []byte("PK\x05\x06"))
		if at < 0 || len(data)-at < sizeEndCentDir {
			return nil, notZip
		}
		rec, location = data[at:at+sizeEndCentDir], start+int64(at)
	}
	sizeCD := uint64(binary.LittleEndian.Uint32(rec[12:]))
	offsetCD := uint64(binary.LittleEndian.Uint32(rec[16:]))
	zip64 := false
	// _EndRecData64: a zip64 locator just before the end record.
	if location >= 20 {
		loc, err := readAt(f, location-20, 20)
		if err == nil && len(loc) == 20 && string(loc[:4]) == "PK\x06\x07" {
			diskno := binary.LittleEndian.Uint32(loc[4:])
			disks := binary.LittleEndian.Uint32(loc[16:])
			if diskno != 0 || disks > 1 {
				return nil, errors.New("zipfiles that span multiple disks are not supported")
			}
			if location >= 20+56 {
				end64, err := readAt(f, location-20-56, 56)
				if err == nil && len(end64) == 56 && string(end64[:4]) == "PK\x06\x06" {
					zip64 = true
					sizeCD = binary.LittleEndian.Uint64(end64[40:])
					offsetCD = binary.LittleEndian.Uint64(end64[48:])
				}
			}
		}
	}
	concat := location - int64(sizeCD) - int64(offsetCD)
	if zip64 {
		concat -= 56 + 20
	}
	startDir := int64(offsetCD) + concat
	if startDir < 0 || sizeCD > uint64(filesize) {
		return nil, errors.New("Bad offset for central directory")
	}
	cd, err := readAt(f, startDir, int(sizeCD))
	if err != nil {
		return nil, err
	}
	var members []*zipMember
	total := 0
	for uint64(total) < sizeCD {
		if len(cd)-total < 46 {
			return nil, errors.New("Truncated central directory")
		}
		h := cd[total : total+46]
		if string(h[:4]) != "PK\x01\x02" {
			return nil, errors.New("Bad magic number for central directory")
		}
		nameLen := int(binary.LittleEndian.Uint16(h[28:]))
		extraLen := int(binary.LittleEndian.Uint16(h[30:]))
		commentLen := int(binary.LittleEndian.Uint16(h[32:]))
		p := total + 46
		clip := func(n int) []byte {
			if p > len(cd) {
				p = len(cd)
			}
			end := p + n
			if end > len(cd) {
				end = len(cd)
			}
			out := cd[p:end]
			p = end
			return out
		}
		flags := binary.LittleEndian.Uint16(h[8:])
		name, err := zipName(clip(nameLen), flags)
		if err != nil {
			return nil, err
		}
		extra := clip(extraLen)
		m := &zipMember{
			OrigFilename: name,
			Filename:     name,
			CreateSystem: h[5],
			ExtractVer:   h[6],
			FlagBits:     flags,
			CompressType: binary.LittleEndian.Uint16(h[10:]),
			CRC:          binary.LittleEndian.Uint32(h[16:]),
			CompressSize: uint64(binary.LittleEndian.Uint32(h[20:])),
			FileSize:     uint64(binary.LittleEndian.Uint32(h[24:])),
			ExternalAttr: binary.LittleEndian.Uint32(h[38:]),
			HeaderOffset: int64(binary.LittleEndian.Uint32(h[42:])),
		}
		if i := strings.IndexByte(name, 0); i >= 0 {
			m.Filename = name[:i]
		}
		if m.ExtractVer > 63 {
			// Python raises NotImplementedError here (an internal error of the CLI).
			return nil, fmt.Errorf("zip file version %.1f", float64(m.ExtractVer)/10)
		}
		if err := zipDecodeExtra(m, extra); err != nil {
			return nil, err
		}
		m.HeaderOffset += concat
		members = append(members, m)
		total += 46 + nameLen + extraLen + commentLen
	}
	return members, nil
}

// zipDecodeExtra is ZipInfo._decodeExtra (Python 3.11): zip64 sizes and offset.
func zipDecodeExtra(m *zipMember, extra []byte) error {
	for len(extra) >= 4 {
		tp := binary.LittleEndian.Uint16(extra)
		ln := int(binary.LittleEndian.Uint16(extra[2:]))
		if ln+4 > len(extra) {
			return fmt.Errorf("Corrupt extra field %04x (size=%d)", tp, ln)
		}
		if tp == 0x0001 {
			data := extra[4 : ln+4]
			take := func(what string) (uint64, error) {
				if len(data) < 8 {
					return 0, fmt.Errorf("Corrupt zip64 extra field. %s not found.", what)
				}
				v := binary.LittleEndian.Uint64(data)
				data = data[8:]
				return v, nil
			}
			var err error
			if m.FileSize == 0xFFFFFFFF {
				if m.FileSize, err = take("File size"); err != nil {
					return err
				}
			}
			if m.CompressSize == 0xFFFFFFFF {
				if m.CompressSize, err = take("Compress size"); err != nil {
					return err
				}
			}
			if m.HeaderOffset == 0xFFFFFFFF {
				v, err := take("Header offset")
				if err != nil {
					return err
				}
				m.HeaderOffset = int64(v)
			}
		}
		extra = extra[ln+4:]
	}
	return nil
}

func firstLine(err error) string {
	text := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	if text == "" {
		return fmt.Sprintf("%T", err)
	}
	return text
}

// OpenZipSource opens and checks a zip bundle (bundle_verify.ZipSource).
func OpenZipSource(path string) (*ZipSource, error) {
	unreadable := func(err error) error {
		return bundleError("%s is not a readable zip archive (%s)", path, firstLine(err))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, unreadable(err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, unreadable(err)
	}
	s := &ZipSource{path: path, f: f, size: st.Size()}
	members, err := zipCentralDirectory(f, s.size)
	if err != nil {
		f.Close()
		return nil, unreadable(err)
	}
	reader, err := zip.NewReader(f, s.size)
	if err != nil {
		f.Close()
		return nil, unreadable(err)
	}
	if len(reader.File) != len(members) {
		f.Close()
		return nil, unreadable(errors.New("the central directory does not hold the number of entries it declares"))
	}
	for i, m := range members {
		m.file = reader.File[i]
	}
	s.members = members
	if err := s.check(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *ZipSource) check() error {
	names := make([]string, 0, len(s.members))
	for _, info := range s.members {
		if problem := memberProblem(info.Filename); problem != "" {
			return bundleError("hostile bundle: %s", problem)
		}
		mode := info.ExternalAttr >> 16
		if info.CreateSystem == 3 && mode&0o170000 == 0o120000 {
			return bundleError("hostile bundle: member %s is a symbolic link", pyStr(info.Filename))
		}
		// Many writers (Python's writestr among them) set permission bits only: type 0 is a file.
		isDir := strings.HasSuffix(info.Filename, "/")
		if isDir || (info.CreateSystem == 3 && mode&0o170000 != 0 && mode&0o170000 != 0o100000) {
			return bundleError("bundle member %s is not a regular file", pyStr(info.Filename))
		}
		if info.FlagBits&0x1 != 0 {
			return bundleError("bundle member %s is encrypted", pyStr(info.Filename))
		}
		if info.CompressType != zip.Store && info.CompressType != zip.Deflate {
			return bundleError("bundle member %s uses an unsupported compression method", pyStr(info.Filename))
		}
		compressed := info.CompressSize
		if compressed < 1 {
			compressed = 1
		}
		if info.FileSize > tlRatioFloor && compressed <= (1<<64-1)/MAX_RATIO && info.FileSize > MAX_RATIO*compressed {
			return bundleError("bundle member %s claims %d bytes from %d compressed (a zip bomb?)",
				pyStr(info.Filename), info.FileSize, info.CompressSize)
		}
		names = append(names, info.Filename)
	}
	layout, err := checkMembers(names)
	if err != nil {
		return err
	}
	// Members must not overlap (overlapping entries are another bomb).
	ordered := append([]*zipMember(nil), s.members...)
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].HeaderOffset < ordered[j].HeaderOffset })
	for i, info := range ordered {
		end := info.HeaderOffset + int64(info.CompressSize)
		limit := s.size
		if i+1 < len(ordered) {
			limit = ordered[i+1].HeaderOffset
		}
		if info.CompressSize > 1<<62 || end > limit {
			return bundleError("bundle member %s overlaps another or runs past the file", pyStr(info.Filename))
		}
	}
	s.byName = map[string]*zipMember{}
	for _, info := range s.members {
		s.byName[info.Filename] = info
	}
	s.layout = layout
	return nil
}

func (s *ZipSource) Layout() Layout { return s.layout }

func (s *ZipSource) sizeOf(name string) uint64 { return s.byName[name].FileSize }

func (s *ZipSource) ReadSmall(name string, limit int) ([]byte, error) {
	if s.sizeOf(name) > uint64(limit) {
		return nil, bundleError("bundle member %s is larger than %d bytes", name, limit)
	}
	return readAll(s, name)
}

func readAll(s bundleSource, name string) ([]byte, error) {
	r, err := s.Blocks(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []byte
	for {
		block, err := r.Next()
		if err != nil {
			return nil, err
		}
		if block == nil {
			return out, nil
		}
		out = append(out, block...)
	}
}

// localHeader is ZipFile.open's check of the member's local header.
func (s *ZipSource) localHeader(info *zipMember) error {
	h, err := readAt(s.f, info.HeaderOffset, 30)
	if err != nil {
		return err
	}
	if len(h) != 30 {
		return errors.New("Truncated file header")
	}
	if string(h[:4]) != "PK\x03\x04" {
		return errors.New("Bad magic number for file header")
	}
	nameLen := int(binary.LittleEndian.Uint16(h[26:]))
	raw, err := readAt(s.f, info.HeaderOffset+30, nameLen)
	if err != nil {
		return err
	}
	if info.FlagBits&0x20 != 0 {
		return errors.New("compressed patched data (flag bit 5)")
	}
	if info.FlagBits&0x40 != 0 {
		return errors.New("strong encryption (flag bit 6)")
	}
	name, err := zipName(raw, binary.LittleEndian.Uint16(h[6:]))
	if err != nil {
		return err
	}
	if name != info.OrigFilename {
		return fmt.Errorf("File name in directory %s and header %s differ.", pyStr(info.OrigFilename), pyStr(name))
	}
	return nil
}

type zipBlocks struct {
	name string
	info *zipMember
	rc   io.ReadCloser
	read uint64
	crc  uint32
	done bool
}

func (s *ZipSource) Blocks(name string) (blockReader, error) {
	info := s.byName[name]
	corrupt := func(err error) error {
		return bundleError("bundle member %s is corrupt (%s)", name, firstLine(err))
	}
	if err := s.localHeader(info); err != nil {
		return nil, corrupt(err)
	}
	rc, err := info.file.Open()
	if err != nil {
		return nil, corrupt(err)
	}
	return &zipBlocks{name: name, info: info, rc: rc}, nil
}

func (z *zipBlocks) Next() ([]byte, error) {
	if z.done {
		return nil, nil
	}
	block := make([]byte, tlBlock)
	n := 0
	var err error
	for n < len(block) && err == nil {
		var m int
		m, err = z.rc.Read(block[n:])
		n += m
	}
	block = block[:n]
	z.read += uint64(n)
	z.crc = crc32.Update(z.crc, crc32.IEEETable, block)
	switch {
	case z.read > z.info.FileSize:
		z.done = true
		return nil, bundleError("bundle member %s is longer than it declares", z.name)
	case errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum):
		// archive/zip stops a member that yields more than its declared size
		// with ErrFormat; Python's zipfile cuts it at that size, and its CRC fails.
		z.done = true
		return nil, bundleError("bundle member %s is corrupt (%s)", z.name, "Bad CRC-32 for file "+pyStr(z.info.Filename))
	case err == io.EOF:
		z.done = true
		if z.read != z.info.FileSize {
			return nil, bundleError("bundle member %s is corrupt (%s)", z.name, "Compressed file ended before the end-of-stream marker was reached")
		}
		if z.crc != z.info.CRC {
			return nil, bundleError("bundle member %s is corrupt (%s)", z.name, "Bad CRC-32 for file "+pyStr(z.info.Filename))
		}
	case err != nil:
		z.done = true
		return nil, bundleError("bundle member %s is corrupt (%s)", z.name, firstLine(err))
	}
	if n == 0 {
		return nil, nil
	}
	return block, nil
}

func (z *zipBlocks) Close() { z.rc.Close() }

func (s *ZipSource) Close() { s.f.Close() }

// DirectorySource is a bundle unpacked in a directory: lstat, no links.
type DirectorySource struct {
	path   string
	layout Layout
}

// tlInternal is an unexpected failure (Python: an exception the CLI reports as internal, exit 4).
type tlInternal struct{ err error }

func (e *tlInternal) Error() string { return e.err.Error() }

func OpenDirectorySource(path string) (*DirectorySource, error) {
	dir, err := os.Open(path)
	if err != nil {
		return nil, &tlInternal{err}
	}
	items, err := dir.ReadDir(-1) // directory order, like os.scandir
	dir.Close()
	if err != nil {
		return nil, &tlInternal{err}
	}
	names := make([]string, 0, len(items))
	for _, item := range items {
		name := item.Name()
		if problem := memberProblem(name); problem != "" {
			return nil, bundleError("hostile bundle: %s", problem)
		}
		if item.Type()&os.ModeSymlink != 0 {
			return nil, bundleError("hostile bundle: member %s is a symbolic link", pyStr(name))
		}
		if !item.Type().IsRegular() {
			return nil, bundleError("bundle member %s is not a regular file", pyStr(name))
		}
		names = append(names, name)
	}
	layout, err := checkMembers(names)
	if err != nil {
		return nil, err
	}
	return &DirectorySource{path: path, layout: layout}, nil
}

func (d *DirectorySource) Layout() Layout { return d.layout }

func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		text := errno.Error()
		if text != "" {
			return strings.ToUpper(text[:1]) + text[1:]
		}
	}
	return err.Error()
}

type fileBlocks struct {
	f     *os.File
	limit int64 // < 0: none
	read  int64
	done  bool
}

func (d *DirectorySource) open(name string, limit int64) (*fileBlocks, error) {
	full := d.path + string(os.PathSeparator) + name
	fd, err := syscall.Open(full, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, bundleError("cannot read bundle member %s: %s", name, strerror(err))
	}
	f := os.NewFile(uintptr(fd), full)
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, bundleError("bundle member %s is not a regular file", pyStr(name))
	}
	return &fileBlocks{f: f, limit: limit}, nil
}

func (d *DirectorySource) Blocks(name string) (blockReader, error) {
	return d.open(name, -1)
}

func (d *DirectorySource) ReadSmall(name string, limit int) ([]byte, error) {
	r, err := d.open(name, int64(limit)+1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var data []byte
	for {
		block, err := r.Next()
		if err != nil {
			return nil, err
		}
		if block == nil {
			break
		}
		data = append(data, block...)
	}
	if len(data) > limit {
		return nil, bundleError("bundle member %s is larger than %d bytes", name, limit)
	}
	return data, nil
}

func (b *fileBlocks) Next() ([]byte, error) {
	if b.done {
		return nil, nil
	}
	block := make([]byte, tlBlock)
	n, err := io.ReadFull(b.f, block)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		b.done = true
	} else if err != nil {
		return nil, &tlInternal{err}
	}
	b.read += int64(n)
	if b.limit >= 0 && b.read >= b.limit {
		b.done = true
	}
	if n == 0 {
		return nil, nil
	}
	return block[:n], nil
}

func (b *fileBlocks) Close() { b.f.Close() }

func (d *DirectorySource) Close() {}

// pyPathStr is str(pathlib.Path(p)): no empty or "." parts, no trailing slash.
func pyPathStr(p string) string {
	if p == "" {
		return "."
	}
	lead := ""
	if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
		lead = "//"
	} else if strings.HasPrefix(p, "/") {
		lead = "/"
	}
	var parts []string
	for _, part := range strings.Split(p, "/") {
		if part != "" && part != "." {
			parts = append(parts, part)
		}
	}
	out := lead + strings.Join(parts, "/")
	if out == "" {
		return "."
	}
	return out
}

// openBundle: a zip file or a directory, checked as described above.
func openBundle(path string) (bundleSource, error) {
	st, err := os.Stat(path)
	if err == nil && st.IsDir() {
		return OpenDirectorySource(path)
	}
	if err == nil && st.Mode().IsRegular() {
		return OpenZipSource(path)
	}
	return nil, bundleError("no bundle at %s", path)
}

// --------------------------------------------------------------------------
// The report

type BundleReport struct {
	Path                 string
	Partial              bool
	Entries              int64
	CheckpointSize       *int64
	Root                 *string
	Origin               *string
	Vkey                 string
	VkeyPinned           bool
	BundleVkey           string
	Witnesses            int
	RequiredCosignatures int
	Cosignatures         []Cosignature
	Subjects             []string
	Findings             []Finding
	Warnings             []Finding
}

func (r *BundleReport) Valid() bool { return len(r.Findings) == 0 }

// --------------------------------------------------------------------------
// Verification

// VerifyOptions are verify_bundle's keyword arguments (Vkey nil: not pinned; Workers 0: one per core).
type VerifyOptions struct {
	Vkey                 *string
	Witnesses            []string
	RequiredCosignatures int
	Workers              int
}

// VerifyBundle verifies the bundle at path; findings go into the report.
// Unusable input is an error (a *LedgerError with an input.* code).
func VerifyBundle(path string, opts VerifyOptions) (*BundleReport, error) {
	witnessList, err := witnessKeys(opts.Witnesses)
	if err != nil {
		return nil, err
	}
	required := opts.RequiredCosignatures
	if !(0 <= required && required <= len(witnessList)) {
		return nil, Errf(tlCodeInvalidInput, "--require-cosignatures %d needs at least that many --witness keys (%d given)",
			required, len(witnessList))
	}
	pinned := opts.Vkey != nil
	var logKey *NoteVerifier
	if pinned {
		if logKey, err = logKeyFrom(strings.TrimFunc(*opts.Vkey, tlIsSpace), "--vkey"); err != nil {
			return nil, err
		}
	}
	path = pyPathStr(path) // Python works with str(pathlib.Path(path))
	source, err := openBundle(path)
	if err != nil {
		return nil, err
	}
	defer source.Close()
	report := &BundleReport{Path: path, Partial: source.Layout().Partial, VkeyPinned: pinned,
		Cosignatures: []Cosignature{}, Subjects: []string{}, Findings: []Finding{}, Warnings: []Finding{}}
	report.Witnesses, report.RequiredCosignatures = len(witnessList), required
	raw, err := source.ReadSmall(VKEY, MAX_VKEY_BYTES)
	if err != nil {
		return nil, err
	}
	if report.BundleVkey, err = readVkey(raw); err != nil {
		return nil, err
	}
	if !pinned {
		// Nothing else to verify with: an unreadable copy makes the bundle unusable.
		if logKey, err = logKeyFrom(report.BundleVkey, "log.vkey of the bundle"); err != nil {
			return nil, err
		}
	}
	report.Vkey = logKey.Vkey()
	if pinned && !SameVkey(report.Vkey, report.BundleVkey) {
		report.Findings = append(report.Findings, Finding{Code: "bundle.log_vkey",
			Message: "the bundle's log.vkey is not the trusted log key", Expected: strp(report.Vkey), Found: strp(report.BundleVkey)})
	}
	note, err := source.ReadSmall(CHECKPOINT, MAX_CHECKPOINT_BYTES)
	if err != nil {
		return nil, err
	}
	checkpoint, anchor := openCheckpointForReport(note, logKey, witnessList, required, report)
	if anchor != nil {
		report.CheckpointSize, report.Origin = int64p(anchor.Size), strp(anchor.Origin)
		report.Root = strp(fmt.Sprintf("%x", anchor.Root))
	}
	vkey := report.Vkey
	verifier := NewLogVerifier(checkpoint, &vkey, report.Partial)
	streamFindings, err := streamBundle(source, verifier, anchor, opts.Workers)
	if err != nil {
		return nil, err
	}
	report.Findings = append(report.Findings, streamFindings...)
	report.Entries = verifier.Size()
	findings, warnings, _ := verifier.Finish()
	report.Findings = append(report.Findings, findings...)
	report.Warnings = append(report.Warnings, warnings...)
	if report.Partial {
		report.Subjects = append(report.Subjects, CustodySubjects(verifier.State())...)
	}
	sort.SliceStable(report.Findings, func(i, j int) bool {
		return findingOrder(report.Findings[i]) < findingOrder(report.Findings[j])
	})
	return report, nil
}

func findingOrder(f Finding) int64 {
	if f.Index == nil {
		return -1
	}
	return *f.Index
}

// openCheckpointForReport is bundle_verify._open_checkpoint: the verified
// checkpoint or nil, and the checkpoint to check proofs against or nil.
func openCheckpointForReport(note []byte, logKey *NoteVerifier, witnesses []*NoteVerifier, required int, report *BundleReport) (*Checkpoint, *Checkpoint) {
	opened, err := OpenCheckpoint(note, logKey, witnesses)
	if err != nil {
		report.Findings = append(report.Findings, Finding{Code: "checkpoint.signature",
			Message: "the checkpoint does not verify under the log key", Found: strp(errMessage(err))})
		unverified, err := ParseCheckpointUnverified(string(bytes.ToValidUTF8(note, []byte("\uFFFD"))))
		if err != nil {
			return nil, nil
		}
		return nil, unverified
	}
	report.Cosignatures = append([]Cosignature{}, opened.Cosignatures...)
	if len(opened.Cosignatures) < required {
		report.Findings = append(report.Findings, Finding{Code: "checkpoint.cosignatures",
			Message:  "too few trusted witnesses cosigned the checkpoint",
			Expected: strp(fmt.Sprint(required)), Found: strp(fmt.Sprint(len(opened.Cosignatures)))})
	}
	return opened.Checkpoint, opened.Checkpoint
}

// --------------------------------------------------------------------------
// The pipeline: reader → workers → in-order replay.

// chunk is entry lines and, for a partial bundle, the proof line of each
// (nil: none); prepared is filled by a worker, which then closes done.
type chunk struct {
	lines    [][]byte
	proofs   [][]byte
	prepared []*PreparedEntry
	panicked any
	done     chan struct{}
}

func defaultWorkers() int {
	n := runtime.NumCPU()
	if n < 1 {
		n = 1
	}
	return n
}

// streamBundle feeds every entry to the verifier in input order; it returns
// the findings of the reading itself (bundle.line, bundle.entry_missing) in
// the order Python appends them, or an error for unusable input.
func streamBundle(source bundleSource, verifier *LogVerifier, anchor *Checkpoint, workers int) ([]Finding, error) {
	partial := source.Layout().Partial
	if workers <= 0 {
		workers = defaultWorkers()
	}
	keys := NewKeyCache()
	inFlight := 4 * workers
	order := make(chan *chunk, inFlight)
	jobs := make(chan *chunk, inFlight)
	stop := make(chan struct{})
	var readerFindings []Finding
	var readerErr error
	readerDone := make(chan struct{})

	go func() {
		defer close(readerDone)
		defer close(order)
		defer close(jobs)
		readerFindings, readerErr = readChunks(source, partial, func(c *chunk) bool {
			c.done = make(chan struct{})
			select {
			case order <- c:
			case <-stop:
				return false
			}
			select {
			case jobs <- c:
			case <-stop:
				return false
			}
			return true
		})
	}()

	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				prepareChunk(c, anchor, partial, keys)
			}
		}()
	}

	learned := 0
	var failure any
	for c := range order {
		<-c.done
		if c.panicked != nil {
			failure = c.panicked
			break
		}
		for _, p := range c.prepared {
			verifier.FeedPrepared(p)
		}
		c.prepared, c.lines, c.proofs = nil, nil, nil
		// Keys the replay learned: signatures by them can be checked by the workers.
		if state := verifier.State(); state != nil && len(state.Keys) > learned {
			for _, record := range state.Keys {
				if record.PublicKey != nil {
					keys.Learn(record.PublicKey)
				}
			}
			learned = len(state.Keys)
		}
	}
	if failure != nil {
		close(stop)
		for range order {
		}
		wg.Wait()
		<-readerDone
		panic(failure)
	}
	wg.Wait()
	<-readerDone
	if readerErr != nil {
		return nil, readerErr
	}
	return readerFindings, nil
}

func prepareChunk(c *chunk, anchor *Checkpoint, partial bool, keys *KeyCache) {
	defer close(c.done)
	defer func() {
		if r := recover(); r != nil {
			c.panicked = r
		}
	}()
	c.prepared = make([]*PreparedEntry, len(c.lines))
	for i, raw := range c.lines {
		c.prepared[i] = prepareBundleEntry(raw, c.proofs[i], anchor, partial, keys)
	}
}

func lineFinding(member string, line Line) Finding {
	return Finding{Code: "bundle.line", Message: member + ": " + line.Problem}
}

func splitterOf(source bundleSource, name string, maxLine int) (*lineSplitter, func(), error) {
	r, err := source.Blocks(name)
	if err != nil {
		return nil, nil, err
	}
	return newLineSplitter(r.Next, maxLine), r.Close, nil
}

// readChunks is bundle_verify._chunks: entry lines paired with proof lines
// (line j with line j, format §15.1), in chunks of CHUNK lines handed to
// emit (which returns false to stop).
func readChunks(source bundleSource, partial bool, emit func(*chunk) bool) ([]Finding, error) {
	var findings []Finding
	entries, closeEntries, err := splitterOf(source, ENTRIES, MAX_ENTRY_LINE)
	if err != nil {
		return nil, err
	}
	defer closeEntries()
	var proofs *lineSplitter
	proofsLeft := false
	if partial {
		var closeProofs func()
		proofs, closeProofs, err = splitterOf(source, PROOFS, MAX_PROOF_LINE)
		if err != nil {
			return nil, err
		}
		defer closeProofs()
		proofsLeft = true
	}
	current := &chunk{}
	for {
		line, ok, err := entries.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if line.Problem != "" {
			findings = append(findings, lineFinding(ENTRIES, line))
		}
		var proof []byte
		if proofsLeft {
			// Taken even for an entry line that is dropped below: proof line j belongs to entry line j.
			proofLine, ok, err := proofs.Next()
			if err != nil {
				return nil, err
			}
			if !ok {
				proofsLeft = false
			} else {
				if proofLine.Problem != "" {
					findings = append(findings, lineFinding(PROOFS, proofLine))
				}
				if len(proofLine.Data) > 0 {
					proof = proofLine.Data
				}
			}
		}
		if len(line.Data) == 0 {
			continue
		}
		current.lines = append(current.lines, line.Data)
		current.proofs = append(current.proofs, proof)
		if len(current.lines) >= CHUNK {
			if !emit(current) {
				return findings, nil
			}
			current = &chunk{}
		}
	}
	if len(current.lines) > 0 {
		if !emit(current) {
			return findings, nil
		}
	}
	for proofsLeft {
		extra, ok, err := proofs.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		var index *int64
		if parsed, err := parseProofLine(extra.Data); err == nil {
			index = int64p(parsed.Index)
		}
		findings = append(findings, Finding{Index: index, Code: "bundle.entry_missing",
			Message: fmt.Sprintf("proofs.jsonl line %d has no entry in entries.jsonl (truncated?)", extra.Number)})
	}
	return findings, nil
}
