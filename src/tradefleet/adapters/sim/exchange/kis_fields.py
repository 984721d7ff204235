"""What KIS returns, per endpoint the simulator serves: the output sections, every field in
each, and the response headers. Data, not code, so a test can hold every response the
simulator serves against it (``missing``).

Field lists were read from the official samples' column maps ([OTA] koreainvestment/
open-trading-api ``examples_llm/domestic_stock/<api>/chk_<api>.py``, HEAD 885dd4e) and, where
a client reads more than those maps list, from what python-kis 2.1.6 parses (marked [PK]).
Response headers from the spec's header tables (``/work/shared/reference/kis-api.md`` §2).
``SIM_EXTRAS`` are fields the simulator adds that KIS does not send (our own adapter reads
them when present); a response may carry those and nothing else beyond the list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENVELOPE = ("rt_cd", "msg_cd", "msg1")
RESPONSE_HEADERS = ("content-type", "tr_id", "tr_cont", "gt_uid")
PAGING_KEYS = ("ctx_area_fk100", "ctx_area_nk100")


@dataclass(frozen=True)
class Shape:
    """One endpoint's success body: output section -> its fields; which sections are arrays
    (of rows with those fields); other top-level keys (paging context)."""

    sections: Mapping[str, tuple[str, ...]]
    arrays: frozenset[str] = frozenset()
    top: tuple[str, ...] = ()
    envelope: tuple[str, ...] = ENVELOPE
    sim_extras: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _n(prefix: str, n: int = 10) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, n + 1))


_PRICE = (
    "iscd_stat_cls_code", "marg_rate", "rprs_mrkt_kor_name", "new_hgpr_lwpr_cls_code",
    "bstp_kor_isnm", "temp_stop_yn", "oprc_rang_cont_yn", "clpr_rang_cont_yn", "crdt_able_yn",
    "grmn_rate_cls_code", "elw_pblc_yn", "stck_prpr", "prdy_vrss", "prdy_vrss_sign",
    "prdy_ctrt", "acml_tr_pbmn", "acml_vol", "prdy_vrss_vol_rate", "stck_oprc", "stck_hgpr",
    "stck_lwpr", "stck_mxpr", "stck_llam", "stck_sdpr", "wghn_avrg_stck_prc", "hts_frgn_ehrt",
    "frgn_ntby_qty", "pgtr_ntby_qty", "pvt_scnd_dmrs_prc", "pvt_frst_dmrs_prc", "pvt_pont_val",
    "pvt_frst_dmsp_prc", "pvt_scnd_dmsp_prc", "dmrs_val", "dmsp_val", "cpfn", "rstc_wdth_prc",
    "stck_fcam", "stck_sspr", "aspr_unit", "hts_deal_qty_unit_val", "lstn_stcn", "hts_avls",
    "per", "pbr", "stac_month", "vol_tnrt", "eps", "bps", "d250_hgpr", "d250_hgpr_date",
    "d250_hgpr_vrss_prpr_rate", "d250_lwpr", "d250_lwpr_date", "d250_lwpr_vrss_prpr_rate",
    "stck_dryy_hgpr", "dryy_hgpr_vrss_prpr_rate", "dryy_hgpr_date", "stck_dryy_lwpr",
    "dryy_lwpr_vrss_prpr_rate", "dryy_lwpr_date", "w52_hgpr", "w52_hgpr_vrss_prpr_ctrt",
    "w52_hgpr_date", "w52_lwpr", "w52_lwpr_vrss_prpr_ctrt", "w52_lwpr_date",
    "whol_loan_rmnd_rate", "ssts_yn", "stck_shrn_iscd", "fcam_cnnm", "cpfn_cnnm",
    "apprch_rate", "frgn_hldn_qty", "vi_cls_code", "ovtm_vi_cls_code", "last_ssts_cntg_qty",
    "invt_caful_yn", "mrkt_warn_cls_code", "short_over_yn", "sltr_yn", "mang_issu_cls_code",
)

_BOOK1 = ("aspr_acpt_hour", *_n("askp"), *_n("bidp"), *_n("askp_rsqn"), *_n("bidp_rsqn"),
          *_n("askp_rsqn_icdc"), *_n("bidp_rsqn_icdc"), "total_askp_rsqn", "total_bidp_rsqn",
          "total_askp_rsqn_icdc", "total_bidp_rsqn_icdc", "ovtm_total_askp_icdc",
          "ovtm_total_bidp_icdc", "ovtm_total_askp_rsqn", "ovtm_total_bidp_rsqn",
          "ntby_aspr_rsqn", "new_mkop_cls_code")
_BOOK2 = ("antc_mkop_cls_code", "stck_prpr", "stck_oprc", "stck_hgpr", "stck_lwpr",
          "stck_sdpr", "antc_cnpr", "antc_cntg_vrss_sign", "antc_cntg_vrss",
          "antc_cntg_prdy_ctrt", "antc_vol", "stck_shrn_iscd", "vi_cls_code")

_MULT = ("kospi_kosdaq_cls_name", "mrkt_trtm_cls_name", "hour_cls_code", "inter_shrn_iscd",
         "inter_kor_isnm", "inter2_prpr", "inter2_prdy_vrss", "prdy_vrss_sign", "prdy_ctrt",
         "acml_vol", "inter2_oprc", "inter2_hgpr", "inter2_lwpr", "inter2_llam", "inter2_mxpr",
         "inter2_askp", "inter2_bidp", "seln_rsqn", "shnu_rsqn", "total_askp_rsqn",
         "total_bidp_rsqn", "acml_tr_pbmn", "inter2_prdy_clpr", "oprc_vrss_hgpr_rate",
         "intr_antc_cntg_vrss", "intr_antc_cntg_vrss_sign", "intr_antc_cntg_prdy_ctrt",
         "intr_antc_vol", "inter2_sdpr")

_BARS1 = ("prdy_vrss", "prdy_vrss_sign", "prdy_ctrt", "stck_prdy_clpr", "acml_vol",
          "acml_tr_pbmn", "hts_kor_isnm", "stck_prpr")
_BARS2 = ("stck_bsop_date", "stck_cntg_hour", "stck_prpr", "stck_oprc", "stck_hgpr",
          "stck_lwpr", "cntg_vol", "acml_tr_pbmn")

# [OTA] lists the first block; the names python-kis reads come after it [PK]
_SEARCH_INFO = ("pdno", "prdt_type_cd", "std_pdno", "shtn_pdno", "prdt_sale_stat_cd",
                "prdt_risk_grad_cd", "prdt_clsf_cd", "sale_strt_dt", "sale_end_dt",
                "wrap_asst_type_cd", "ivst_prdt_type_cd", "frst_erlm_dt",
                "prdt_name", "prdt_name120", "prdt_abrv_name", "prdt_eng_name",
                "prdt_eng_name120", "prdt_eng_abrv_name")

_ORDER = ("KRX_FWDG_ORD_ORGNO", "ODNO", "ORD_TMD")

_PSBL_ORDER = ("ord_psbl_cash", "ord_psbl_sbst", "ruse_psbl_amt", "fund_rpch_chgs",
               "psbl_qty_calc_unpr", "nrcvb_buy_amt", "nrcvb_buy_qty", "max_buy_amt",
               "max_buy_qty", "cma_evlu_amt", "ovrs_re_use_amt_wcrc", "ord_psbl_frcr_amt_wcrc")

_CCLD1 = ("ord_dt", "ord_gno_brno", "odno", "orgn_odno", "ord_dvsn_name", "sll_buy_dvsn_cd",
          "sll_buy_dvsn_cd_name", "pdno", "prdt_name", "ord_qty", "ord_unpr", "ord_tmd",
          "tot_ccld_qty", "avg_prvs", "cncl_yn", "tot_ccld_amt", "loan_dt", "ordr_empno",
          "ord_dvsn_cd", "cnc_cfrm_qty", "rmn_qty", "rjct_qty", "ccld_cndt_name",
          "inqr_ip_addr", "cpbc_ordp_ord_rcit_dvsn_cd", "cpbc_ordp_infm_mthd_dvsn_cd",
          "infm_tmd", "ctac_tlno", "prdt_type_cd", "excg_dvsn_cd", "cpbc_ordp_mtrl_dvsn_cd",
          "ord_orgno", "rsvn_ord_end_dt", "excg_id_dvsn_Cd", "stpm_cndt_pric",
          "stpm_efct_occr_dtmd")
_CCLD2 = ("tot_ord_qty", "tot_ccld_qty", "tot_ccld_amt", "prsm_tlex_smtl", "pchs_avg_pric")

_BAL1 = ("pdno", "prdt_name", "trad_dvsn_name", "bfdy_buy_qty", "bfdy_sll_qty", "thdt_buyqty",
         "thdt_sll_qty", "hldg_qty", "ord_psbl_qty", "pchs_avg_pric", "pchs_amt", "prpr",
         "evlu_amt", "evlu_pfls_amt", "evlu_pfls_rt", "evlu_erng_rt", "loan_dt", "loan_amt",
         "stln_slng_chgs", "expd_dt", "fltt_rt", "bfdy_cprs_icdc", "item_mgna_rt_name",
         "grta_rt_name", "sbst_pric", "stck_loan_unpr")
_BAL2 = ("dnca_tot_amt", "nxdy_excc_amt", "prvs_rcdl_excc_amt", "cma_evlu_amt",
         "bfdy_buy_amt", "thdt_buy_amt", "nxdy_auto_rdpt_amt", "bfdy_sll_amt", "thdt_sll_amt",
         "d2_auto_rdpt_amt", "bfdy_tlex_amt", "thdt_tlex_amt", "tot_loan_amt", "scts_evlu_amt",
         "tot_evlu_amt", "nass_amt", "fncg_gld_auto_rdpt_yn", "pchs_amt_smtl_amt",
         "evlu_amt_smtl_amt", "evlu_pfls_smtl_amt", "tot_stln_slng_chgs",
         "bfdy_tot_asst_evlu_amt", "asst_icdc_amt", "asst_icdc_erng_rt")

_RVSECNCL = ("ord_gno_brno", "odno", "orgn_odno", "ord_dvsn_name", "pdno", "prdt_name",
             "rvse_cncl_dvsn_name", "ord_qty", "ord_unpr", "ord_tmd", "tot_ccld_qty",
             "tot_ccld_amt", "psbl_qty", "sll_buy_dvsn_cd", "ord_dvsn_cd", "mgco_aptm_odno",
             "excg_dvsn_cd", "excg_id_dvsn_cd", "excg_id_dvsn_name", "stpm_cndt_pric",
             "stpm_efct_occr_yn")

_PREV_HL = ("prdy_hgpr", "prdy_lwpr")     # simulator extras read by our own adapter

SHAPES: dict[str, Shape] = {
    "quotations/inquire-price": Shape({"output": _PRICE}, sim_extras={"output": _PREV_HL}),
    "quotations/search-info": Shape({"output": _SEARCH_INFO}),
    "quotations/intstock-multprice": Shape({"output": _MULT}, frozenset({"output"}),
                                           sim_extras={"output": _PREV_HL}),
    "quotations/inquire-asking-price-exp-ccn": Shape({"output1": _BOOK1, "output2": _BOOK2}),
    "quotations/inquire-time-itemchartprice": Shape({"output1": _BARS1, "output2": _BARS2},
                                                    frozenset({"output2"})),
    "trading/order-cash": Shape({"output": _ORDER}),
    "trading/order-rvsecncl": Shape({"output": _ORDER}),
    "trading/inquire-psbl-order": Shape({"output": _PSBL_ORDER}),
    "trading/inquire-daily-ccld": Shape({"output1": _CCLD1, "output2": _CCLD2},
                                        frozenset({"output1"}), PAGING_KEYS),
    "trading/inquire-balance": Shape({"output1": _BAL1, "output2": _BAL2},
                                     frozenset({"output1", "output2"}), PAGING_KEYS),
    "trading/inquire-psbl-rvsecncl": Shape({"output": _RVSECNCL}, frozenset({"output"}),
                                           PAGING_KEYS),
}
HASHKEY = Shape({"BODY": ()}, top=("HASH",), envelope=())


def missing(path: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> list[str]:
    """What a SUCCESS response for ``path`` lacks against ``SHAPES`` (as "section.field",
    "header:name", or a top-level key), plus any field neither KIS nor ``sim_extras`` has
    (as "+section.field"). Empty when the response is complete."""
    shape = HASHKEY if path == "hashkey" else SHAPES[path]
    lower = {k.lower() for k in headers}
    gaps = [f"header:{h}" for h in RESPONSE_HEADERS if h not in lower]
    gaps += [k for k in (*shape.envelope, *shape.top) if k not in body]
    for section, fields in shape.sections.items():
        if section not in body:
            gaps.append(section)
            continue
        value = body[section]
        rows = value if section in shape.arrays else [value]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            gaps.append(f"{section}: wrong shape ({type(value).__name__})")
            continue
        allowed = set(fields) | set(shape.sim_extras.get(section, ()))
        for row in rows:
            gaps += [f"{section}.{f}" for f in fields if f not in row]
            if fields:
                gaps += [f"+{section}.{f}" for f in row if f not in allowed]
    return sorted(set(gaps))
