/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SG_CLS_H
#define SG_CLS_H

/*
 * Classification value, packed in 64 bits so that a lookup returns it
 * without a pointer chase. Written by the CE into the CFE table, carried in
 * sg_meta.cls to the DFE, which decodes it:
 *   bits  0..31  SA slot in the DFE's SA table
 *   bits 32..47  generation of the slot (guards against slot reuse)
 *   bits 48..55  DFE index
 *   bits 56..63  flags (CFE_CLASS_F_*)
 */

#include <stdint.h>

#define CFE_CLASS_F_BY_DST 0x01  /* SPI shared: look up again with the dst */

static inline uint64_t
cfe_class_val(uint32_t slot, uint16_t gen, uint8_t dfe, uint8_t flags)
{
	return (uint64_t)slot | (uint64_t)gen << 32 | (uint64_t)dfe << 48 |
		(uint64_t)flags << 56;
}
static inline uint32_t cfe_class_slot(uint64_t v) { return (uint32_t)v; }
static inline uint16_t cfe_class_gen(uint64_t v) { return (uint16_t)(v >> 32); }
static inline uint8_t cfe_class_dfe(uint64_t v) { return (uint8_t)(v >> 48); }
static inline uint8_t cfe_class_flags(uint64_t v) { return (uint8_t)(v >> 56); }

#endif /* SG_CLS_H */
