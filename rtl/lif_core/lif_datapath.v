// CUBA-LIF neuron update: the arithmetic of docs/fixed-point.md, one neuron per clock.
//
// Six register stages, no stalls: a neuron entering with in_valid leaves LATENCY cycles later
// with out_valid. Per-neuron operands travel with the neuron; the layer constants (in_wexp,
// in_du, in_dv, in_vth) are read where they are needed and must hold while in_valid or `busy`
// (the core changes them only between layers, the unit bench only between steps). The new u is
// final two cycles before out_valid, on mid_u with mid_valid: the core writes it back then.
//
//   u <- wrap24(wrap32(decay(u, du + 1) + drive))
//   v <- clip(wrap32(decay(v, dv) + u + (bias_mant << bias_exp)))
//   s <- v > (vth << 6);  v <- 0 where s
//
// drive is the Dense output a shifted by the activation shift, a << 6 in a 32-bit word, where a
// is the activation-port word (act_mode: a crossbar's ADC output) or floor(2 * acc * 2**wexp)
// from the summed weight mantissas acc.
`default_nettype none

module lif_datapath #(
    parameter ACC_W = 16,              // summed mantissas: 8 + log2(max fan-in) bits
    parameter TAG_W = 8                // caller's tag, carried alongside the neuron
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              in_valid,
    input  wire [31:0]       in_u,
    input  wire [23:0]       in_v,
    input  wire              in_act_mode,
    input  wire [ACC_W-1:0]  in_acc,
    input  wire [31:0]       in_act,       // Dense output a from the activation port
    input  wire [3:0]        in_wexp,      // layer constants: signed -8..7
    input  wire [11:0]       in_du,
    input  wire [11:0]       in_dv,
    input  wire [16:0]       in_vth,
    input  wire [12:0]       in_bias_mant, // signed
    input  wire [2:0]        in_bias_exp,
    input  wire [TAG_W-1:0]  in_tag,
    output reg               out_valid,
    output reg  [31:0]       out_u,
    output reg  [23:0]       out_v,
    output reg               out_spike,
    output reg  [TAG_W-1:0]  out_tag,
    output reg               out_u_wrap,   // the 24-bit current wrap acted
    output reg               out_v_sat,    // the voltage saturated
    output reg               out_i32_wrap, // a 32-bit sum wrapped (input above 2**24 per step)
    output wire              busy,         // a neuron is somewhere in the pipeline
    output wire              mid_valid,    // mid_u is the new u of a neuron (stage 4)
    output wire [31:0]       mid_u
);
    localparam LATENCY = 6;
    localparam signed [31:0] V_MAX = 32'sd8388607;    // 2**23 - 1
    localparam signed [31:0] V_MIN = -32'sd8388607;

    reg [LATENCY-1:1] valid;
    assign busy = |valid || out_valid;
    assign mid_valid = valid[4];

    // Stage 1: register the operands, so that the multipliers start from flip-flops.
    reg signed [31:0] s1_u;
    reg signed [23:0] s1_v;
    reg s1_act_mode;
    reg signed [ACC_W-1:0] s1_acc;
    // a << 6 keeps the low 26 bits of a: the top ones leave the 32-bit word (int32 wrap).
    /* verilator lint_off UNUSEDSIGNAL */
    reg signed [31:0] s1_act;
    /* verilator lint_on UNUSEDSIGNAL */
    reg signed [12:0] s1_bias_mant;
    reg [2:0] s1_bias_exp;
    reg [TAG_W-1:0] s1_tag;

    // Stage 2: decay products, Dense product (see below), bias.
    // The products' top two bits are both the sign; one of them is used.
    /* verilator lint_off UNUSEDSIGNAL */
    reg signed [45:0] s2_pu;           // u * ku
    reg signed [37:0] s2_pv;           // v * kv
    /* verilator lint_on UNUSEDSIGNAL */
    // The Dense product's low 6 bits are cleared (below).
    /* verilator lint_off UNUSEDSIGNAL */
    reg signed [31:0] s2_dense;
    /* verilator lint_on UNUSEDSIGNAL */
    reg [25:0] s2_act;
    reg s2_act_mode;
    reg signed [19:0] s2_bias;
    reg [TAG_W-1:0] s2_tag;

    // Stage 3: current sum in a 32-bit word (with its int32 overflow) and decay(v) + bias, kept
    // apart until u is known.
    reg signed [31:0] s3_usum;
    reg s3_i32;
    reg signed [24:0] s3_vpart;
    reg [TAG_W-1:0] s3_tag;

    // Stage 4: 24-bit current wrap: the new u.
    reg signed [31:0] s4_u;
    assign mid_u = s4_u;
    reg s4_wrap, s4_i32;
    reg signed [24:0] s4_vpart;
    reg [TAG_W-1:0] s4_tag;

    // Stage 5: voltage sum in a 32-bit word.
    reg signed [31:0] s5_u;
    reg signed [31:0] s5_vsum;
    reg s5_wrap, s5_i32;
    reg [TAG_W-1:0] s5_tag;

    wire [12:0] ku = 13'd4095 - {1'b0, in_du};  // current decay factor: 4096 - du - 1
    wire [12:0] kv = 13'd4096 - {1'b0, in_dv};  // voltage decay factor: 4096 - dv

    // Dense input: floor(2 * acc * 2**wexp) << 6, the 6-bit activation shift after Dense's
    // flooring shift. That is floor(acc * 2**(wexp + 7) / 64) * 64: a product (a MAC16, not
    // a 32-bit barrel shifter) with its low 6 bits cleared. For wexp = -8 the factor would be
    // 2**-1, so stage 1 takes floor(acc / 2) and the factor is 2**0. The product is registered
    // in the MAC16 (the activation word is chosen a stage later).
    wire wexp_min = in_wexp == 4'b1000;
    wire [3:0] dense_sh = wexp_min ? 4'd0 : in_wexp + 4'd7;  // 0..14
    wire [14:0] dense_b = 15'd1 << dense_sh;
    // |acc| <= 2**15 and the factor <= 2**14: the product fits the 32-bit word.
    /* verilator lint_off UNUSEDSIGNAL */
    wire signed [31:0] dense_p = s1_acc * $signed({1'b0, dense_b});
    /* verilator lint_on UNUSEDSIGNAL */
    // The bias mantissa << exp, as a product too (a MAC16 rather than a shifter).
    /* verilator lint_off UNUSEDSIGNAL */
    wire signed [21:0] bias_p = s1_bias_mant * $signed({1'b0, 8'd1 << s1_bias_exp});
    /* verilator lint_on UNUSEDSIGNAL */

    // Combinational logic of each stage, in procedural blocks: an event-driven simulator runs
    // them as word operations once per neuron, where continuous assignments would be
    // re-evaluated bit by bit.
    //
    // Truncation toward zero: (p + 4095) >>> 12 for a negative product p, that is p >>> 12
    // plus one where p has ones below bit 12: the carry into the sum the decay goes to. The
    // top bits (|decay(x)| <= |x|) are dropped. The current sum is taken in 33 bits, exactly:
    // its int32 overflow (Lava's wrap) is bit 32 differing from bit 31.
    wire pu_up = s2_pu[45] && s2_pu[11:0] != 12'd0;
    wire pv_up = s2_pv[37] && s2_pv[11:0] != 12'd0;
    reg signed [31:0] drive;
    reg signed [32:0] usum;
    reg signed [24:0] vpart;
    always @* begin
        drive = s2_act_mode ? {s2_act, 6'd0} : {s2_dense[31:6], 6'd0};
        usum = {s2_pu[43], s2_pu[43:12]} + {drive[31], drive} + {32'd0, pu_up};
        vpart = {s2_pv[35], s2_pv[35:12]} + {{5{s2_bias[19]}}, s2_bias} + {24'd0, pv_up};
    end

    // The comparisons with constants, bit by bit (not as subtractions): u > 2**23 and
    // u <= -2**23 (0xff800000); v > 2**23 - 1 and v < -(2**23 - 1) (0xff800001).
    reg wrap_hi, wrap_lo;
    always @* begin
        wrap_hi = !s3_usum[31] && (s3_usum[30:24] != 7'd0
                                   || (s3_usum[23] && s3_usum[22:0] != 23'd0));
        wrap_lo = s3_usum[31] && (s3_usum[30:23] != 8'hff || s3_usum[22:0] == 23'd0);
    end

    reg signed [33:0] vsum;
    always @* vsum = {{2{s4_u[31]}}, s4_u} + {{9{s4_vpart[24]}}, s4_vpart};

    reg v_hi, v_lo, fire;
    always @* begin
        v_hi = !s5_vsum[31] && s5_vsum[30:23] != 8'd0;
        v_lo = s5_vsum[31] && (s5_vsum[30:23] != 8'hff || s5_vsum[22:0] == 23'd0);
        // v > vth << 6 after the clip: a saturated-high v (2**23 - 1) is above every
        // threshold (at most 2**23 - 64), a negative one below all of them. Between, v has
        // 23 bits, and v > vth << 6 where v >> 6 > vth or v >> 6 = vth with ones below.
        fire = v_hi || (!s5_vsum[31] && {s5_vsum[22:6], s5_vsum[5:0] != 6'd0} > {in_vth, 1'b0});
    end

    // Each stage loads only when a neuron enters it (clock enables: no toggling when idle).
    always @(posedge clk) begin
        if (rst) begin
            valid <= 0;
            out_valid <= 1'b0;
        end else if (in_valid || busy) begin
            valid <= {valid[LATENCY-2:1], in_valid};
            out_valid <= valid[LATENCY-1];
        end
        if (in_valid) begin
            s1_u <= in_u;
            s1_v <= in_v;
            s1_act_mode <= in_act_mode;
            s1_acc <= wexp_min ? $signed(in_acc) >>> 1 : $signed(in_acc);
            s1_act <= in_act;
            s1_bias_mant <= in_bias_mant;
            s1_bias_exp <= in_bias_exp;
            s1_tag <= in_tag;
        end
        if (valid[1]) begin
            s2_pu <= s1_u * $signed({1'b0, ku});
            s2_pv <= s1_v * $signed({1'b0, kv});
            s2_dense <= dense_p;
            s2_act <= s1_act[25:0];
            s2_act_mode <= s1_act_mode;
            s2_bias <= bias_p[19:0];
            s2_tag <= s1_tag;
        end
        if (valid[2]) begin
            s3_usum <= usum[31:0];
            s3_i32 <= usum[32] != usum[31];
            s3_vpart <= vpart;
            s3_tag <= s2_tag;
        end
        if (valid[3]) begin
            // -+ 2**24: only the top byte changes.
            s4_u <= {s3_usum[31:24] + (wrap_hi ? 8'hff : {7'd0, wrap_lo}), s3_usum[23:0]};
            s4_wrap <= wrap_hi || wrap_lo;
            s4_i32 <= s3_i32;
            s4_vpart <= s3_vpart;
            s4_tag <= s3_tag;
        end
        if (valid[4]) begin
            s5_u <= s4_u;
            s5_vsum <= vsum[31:0];
            s5_wrap <= s4_wrap;
            s5_i32 <= s4_i32 || (vsum[33:31] != {3{vsum[31]}});
            s5_tag <= s4_tag;
        end
        if (valid[5]) begin
            out_u <= s5_u;
            out_v <= fire ? 24'd0 : v_hi ? V_MAX[23:0] : v_lo ? V_MIN[23:0] : s5_vsum[23:0];
            out_spike <= fire;
            out_tag <= s5_tag;
            out_u_wrap <= s5_wrap;
            out_v_sat <= v_hi || v_lo;
            out_i32_wrap <= s5_i32;
        end
    end
endmodule

`default_nettype wire
