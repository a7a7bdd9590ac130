/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SG_COMMON_H
#define SG_COMMON_H

/* Sizes every element agrees on. */
#define SG_BURST        32    /* RX, ring, crypto and TX burst */
#define SG_MAX_PORTS    16
#define SG_MAX_DFE      32
#define SG_MAX_CFE      32
#define SG_ETHER_HDR    14

#endif /* SG_COMMON_H */
