package linux

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"

	"github.com/synodvm/synod/machine"
)

// maxImageBytes bounds the memory an executable's segments (code, data and
// bss together) may ask for. Every mapped page costs a record when mapped
// (its contents only once written), so a corrupt header must not make the
// loader map gigabytes; programs that need more memory get it from malloc
// at run time.
const maxImageBytes = 256 << 20

// imageLimit is where the executable's segments must end: above it lie the
// mmap area and the stack.
const imageLimit = 0xc0000000

// image is what the loader learned about an executable once it is mapped.
type image struct {
	entry uint32
	phdr  uint32 // guest address of the program headers (AT_PHDR)
	phent uint32
	phnum uint32
	brk   uint32 // first page after the highest segment: the initial program break
}

// CheckExecutable reports why binary cannot run here, if it cannot: the
// loader's own checks, made before anything is started with it.
func CheckExecutable(binary []byte) error {
	_, err := loadELF(binary, machine.NewMemory())
	return err
}

// loadELF checks that binary is a static 32-bit big-endian PA-RISC
// executable and maps its segments into mem.
func loadELF(binary []byte, mem *machine.Memory) (image, error) {
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return image{}, fmt.Errorf("not an ELF executable: %w", err)
	}
	if f.Class != elf.ELFCLASS32 || f.Data != elf.ELFDATA2MSB || f.Machine != elf.EM_PARISC {
		return image{}, fmt.Errorf("not a 32-bit big-endian PA-RISC executable (%v, %v, %v)", f.Class, f.Data, f.Machine)
	}
	if f.Type != elf.ET_EXEC {
		return image{}, fmt.Errorf("ELF type %v: only static executables (ET_EXEC) run here; link with -static", f.Type)
	}
	img := image{entry: uint32(f.Entry), phent: 32, phnum: uint32(len(f.Progs))}
	if f.Entry > 0xffffffff || f.Entry < machine.PageSize {
		return image{}, fmt.Errorf("entry point %#x outside user memory", f.Entry)
	}
	phoff, err := programHeaderOffset(binary)
	if err != nil {
		return image{}, err
	}
	var total uint64
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP, elf.PT_DYNAMIC:
			return image{}, errors.New("dynamically linked executable: link with -static")
		case elf.PT_LOAD:
		default:
			continue
		}
		if p.Filesz > p.Memsz || p.Vaddr+p.Memsz > imageLimit || p.Vaddr < machine.PageSize || p.Off+p.Filesz > uint64(len(binary)) {
			return image{}, fmt.Errorf("segment at %#x (file %#x+%#x, memory %#x) does not fit", p.Vaddr, p.Off, p.Filesz, p.Memsz)
		}
		if total += p.Memsz; total > maxImageBytes {
			return image{}, fmt.Errorf("segments need more than %d bytes", maxImageBytes)
		}
		if err := mapSegment(mem, p, binary[p.Off:p.Off+p.Filesz]); err != nil {
			return image{}, err
		}
		if phoff >= p.Off && phoff+uint64(img.phnum)*32 <= p.Off+p.Filesz {
			img.phdr = uint32(p.Vaddr + phoff - p.Off)
		}
		if end := uint32(pageUp(p.Vaddr + p.Memsz)); end > img.brk {
			img.brk = end
		}
	}
	if img.brk == 0 {
		return image{}, errors.New("no loadable segment")
	}
	if prot, ok := mem.Mapped(img.entry); !ok || prot&machine.ProtExec == 0 {
		return image{}, fmt.Errorf("entry point %#x is not in an executable segment", img.entry)
	}
	return img, nil
}

// programHeaderOffset reads e_phoff, which debug/elf does not expose.
func programHeaderOffset(binary []byte) (uint64, error) {
	const ePhoff = 28
	if len(binary) < ePhoff+4 {
		return 0, errors.New("truncated ELF header")
	}
	b := binary[ePhoff:]
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3]), nil
}

// mapSegment maps the pages of one PT_LOAD segment (a page shared with a
// neighbouring segment gets the union of both rights) and copies its bytes.
func mapSegment(mem *machine.Memory, p *elf.Prog, data []byte) error {
	start := uint32(p.Vaddr) &^ (machine.PageSize - 1)
	end := uint32(pageUp(p.Vaddr + p.Memsz))
	var final []machine.Prot
	for a := start; a != end; a += machine.PageSize {
		old, mapped := mem.Mapped(a)
		final = append(final, old|segmentProt(p.Flags))
		if !mapped {
			if err := mem.Map(a, machine.PageSize, machine.ProtRead|machine.ProtWrite); err != nil {
				return fmt.Errorf("map segment page %#x: %w", a, err)
			}
		} else if err := mem.Protect(a, machine.PageSize, machine.ProtRead|machine.ProtWrite); err != nil {
			return fmt.Errorf("map segment page %#x: %w", a, err)
		}
	}
	if err := mem.WriteBytes(uint32(p.Vaddr), data); err != nil {
		return fmt.Errorf("copy segment at %#x: %w", p.Vaddr, err)
	}
	for i, a := 0, start; a != end; i, a = i+1, a+machine.PageSize {
		if err := mem.Protect(a, machine.PageSize, final[i]); err != nil {
			return fmt.Errorf("protect segment page %#x: %w", a, err)
		}
	}
	return nil
}

func segmentProt(f elf.ProgFlag) machine.Prot {
	var prot machine.Prot
	if f&elf.PF_R != 0 {
		prot |= machine.ProtRead
	}
	if f&elf.PF_W != 0 {
		prot |= machine.ProtWrite
	}
	if f&elf.PF_X != 0 {
		prot |= machine.ProtExec
	}
	return prot
}

func pageUp(a uint64) uint64 { return (a + machine.PageSize - 1) &^ (machine.PageSize - 1) }
