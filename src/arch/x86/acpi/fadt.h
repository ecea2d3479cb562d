// The Fixed ACPI Description Table (ACPI 6.5 §5.2.9) of a hardware-reduced
// machine (§4.1): no PM1/GPE blocks, no SCI, no FACS; power-off goes through
// the sleep control register instead of PM1 control.
#pragma once

#include <cstdint>

#include "arch/x86/acpi/sdt.h"

namespace vmhive::x86::acpi {

// The sleep registers (§4.8.3.7) the FADT names. The guest writes
// SLP_TYP << 2 | SLP_EN (bit 5) to the control register; \_S5_ gives SLP_TYP 5.
inline constexpr uint16_t kSleepControlPort = 0x600;
inline constexpr uint16_t kSleepStatusPort = 0x601;

// FADT Fixed Feature Flags (§5.2.9, Table 5.10).
inline constexpr uint32_t kFadtHwReducedAcpi = 1u << 20;

// IA-PC Boot Architecture Flags (§5.2.9.3).
inline constexpr uint16_t kBootArchLegacyDevices = 1u << 0;  // ISA devices not enumerated otherwise
inline constexpr uint16_t kBootArch8042 = 1u << 1;           // an i8042 at 0x60/0x64
inline constexpr uint16_t kBootArchVgaNotPresent = 1u << 2;
inline constexpr uint16_t kBootArchMsiNotSupported = 1u << 3;
inline constexpr uint16_t kBootArchCmosRtcNotPresent = 1u << 5;

// ACPI 6.5 §5.2.9, Table 5.9: the FADT of revision 6.
struct [[gnu::packed]] Fadt {
  SdtHeader header;
  uint32_t firmware_ctrl;
  uint32_t dsdt;
  uint8_t reserved0;
  uint8_t preferred_pm_profile;
  uint16_t sci_int;
  uint32_t smi_cmd;
  uint8_t acpi_enable;
  uint8_t acpi_disable;
  uint8_t s4bios_req;
  uint8_t pstate_cnt;
  uint32_t pm1a_evt_blk;
  uint32_t pm1b_evt_blk;
  uint32_t pm1a_cnt_blk;
  uint32_t pm1b_cnt_blk;
  uint32_t pm2_cnt_blk;
  uint32_t pm_tmr_blk;
  uint32_t gpe0_blk;
  uint32_t gpe1_blk;
  uint8_t pm1_evt_len;
  uint8_t pm1_cnt_len;
  uint8_t pm2_cnt_len;
  uint8_t pm_tmr_len;
  uint8_t gpe0_blk_len;
  uint8_t gpe1_blk_len;
  uint8_t gpe1_base;
  uint8_t cst_cnt;
  uint16_t p_lvl2_lat;
  uint16_t p_lvl3_lat;
  uint16_t flush_size;
  uint16_t flush_stride;
  uint8_t duty_offset;
  uint8_t duty_width;
  uint8_t day_alrm;
  uint8_t mon_alrm;
  uint8_t century;
  uint16_t iapc_boot_arch;
  uint8_t reserved1;
  uint32_t flags;
  GenericAddress reset_reg;
  uint8_t reset_value;
  uint16_t arm_boot_arch;
  uint8_t fadt_minor_version;
  uint64_t x_firmware_ctrl;
  uint64_t x_dsdt;
  GenericAddress x_pm1a_evt_blk;
  GenericAddress x_pm1b_evt_blk;
  GenericAddress x_pm1a_cnt_blk;
  GenericAddress x_pm1b_cnt_blk;
  GenericAddress x_pm2_cnt_blk;
  GenericAddress x_pm_tmr_blk;
  GenericAddress x_gpe0_blk;
  GenericAddress x_gpe1_blk;
  GenericAddress sleep_control_reg;
  GenericAddress sleep_status_reg;
  char hypervisor_vendor_identity[8];
};
static_assert(sizeof(Fadt) == 276);
static_assert(offsetof(Fadt, flags) == 112);
static_assert(offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, sleep_control_reg) == 244);

// The FADT ("FACP"); its X_DSDT is linked to the table signed "DSDT".
AcpiTable build_fadt();

}  // namespace vmhive::x86::acpi
