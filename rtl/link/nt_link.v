// The edge end of the NeuroTwin wire protocol (docs/protocol.md) on a UART, in front of one
// lif_core: frames in, configuration writes and reads, AER events and time-step ticks to the
// core, its output spikes back as EVENTS and TICK frames, STATUS counters, ERROR reports.
//
// Units, each one always block:
//   rx   UART bytes -> COBS decode -> CRC-32 (a bit per clock) -> header check, no stall:
//        frame bytes go to the frame buffer when it is free; ACK and NAK are acted on here
//        from the captured header, so they pass even while the buffer is busy.
//   disp takes a stored frame: sequence check, then the packet, reading its bytes from the
//        buffer; writes replies (CONFIG_DATA, STATUS, ERROR) into the transmit buffer.
//   pack turns the core's AER output into EVENTS frames (steps counted from the RUN) and
//        the TICK that ends a RUN.
//   txb  the transmit buffer: one sequenced frame, kept until acknowledged (stop and wait),
//        sent again on NAK or after RTO_CYCLES; a byte writer shared by its owner.
//   enc  COBS encode (its scan also runs the CRC), UART: control frames (ACK, NAK, HELLO) from registers first,
//        then the buffered frame.
//
// Differences from a host end, by design: the receive window and the credit are one frame
// (the host never has more than one frame in flight towards the edge), frames out of order
// are dropped and NAK'ed rather than held, and authenticated frames (flags bit 0) are
// counted as bad_auth: this end holds no keys; a link others can reach goes through a host
// with TLS and HMAC.
`default_nettype none

module nt_link #(
    parameter CLKS_PER_BIT = 4,        // clocks per UART bit: 12 MHz / 3 Mbaud
    parameter RTO_CYCLES = 1500000     // clocks without ACK before a resend (125 ms at 12 MHz)
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        uart_rx,
    output wire        uart_tx,
    // the core's AER input and output
    output reg         in_valid,
    input  wire        in_ready,
    output reg  [15:0] in_data,
    input  wire        out_valid,
    output wire        out_ready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [15:0] out_data,       // [15] tick, [7:0] neuron
    /* verilator lint_on UNUSEDSIGNAL */
    // the core's configuration port
    output reg         cfg_valid,
    input  wire        cfg_ready,
    output reg         cfg_we,
    output wire [16:0] cfg_addr,
    output wire [31:0] cfg_wdata,
    input  wire        cfg_rvalid,
    input  wire [31:0] cfg_rdata,
    output wire        busy            // work in hand (an LED; co-simulation idles without)
);
    localparam [7:0] T_EVENTS = 8'h01, T_TICK = 8'h02, T_CFG_W = 8'h10, T_CFG_R = 8'h11,
                     T_CFG_D = 8'h12, T_CONTROL = 8'h20, T_STAT_RQ = 8'h30, T_STATUS = 8'h31,
                     T_ACK = 8'h40, T_NAK = 8'h41, T_ERROR = 8'h50, T_HELLO = 8'h60;
    localparam [7:0] E_BAD_CONFIG = 8'd3, E_BAD_STATE = 8'd4;
    localparam [10:0] MAX_DEC = 11'd1054;  // header + 1024 + auth trailer + CRC
    localparam [15:0] CREDITS = 16'd1;
    localparam [31:0] CRC_RESIDUE = 32'hDEBB20E3;
    // HELLO payload: version 1, max payload 1024, name (name_byte)
    localparam [10:0] NAME_LEN = 11'd13;
    // STATUS counter indices (docs/protocol.md order)

    // "neurotwin-rtl" as a 16-entry ROM (one LUT per bit, where a part-select of a string
    // parameter by a variable index would cost a barrel shifter)
    function [7:0] name_byte(input [3:0] k);
        case (k)
            4'd0: name_byte = "n";
            4'd1: name_byte = "e";
            4'd2: name_byte = "u";
            4'd3: name_byte = "r";
            4'd4: name_byte = "o";
            4'd5: name_byte = "t";
            4'd6: name_byte = "w";
            4'd7: name_byte = "i";
            4'd8: name_byte = "n";
            4'd9: name_byte = "-";
            4'd10: name_byte = "r";
            4'd11: name_byte = "t";
            4'd12: name_byte = "l";
            default: name_byte = 8'd0;
        endcase
    endfunction

    function [31:0] crc32_byte(input [31:0] crc, input [7:0] b);
        integer k;
        reg [31:0] x;
        begin
            x = crc ^ {24'd0, b};
            for (k = 0; k < 8; k = k + 1)
                x = x[0] ? ((x >> 1) ^ 32'hEDB88320) : (x >> 1);
            crc32_byte = x;
        end
    endfunction

    // ---------------------------------------------------------------------------- counters
    // 16 bits each (they wrap; STATUS sends them zero-extended), in one EBR rather than in
    // flip-flops (13 16-bit incrementers cost the UP5K some 450 logic cells). An increment
    // sets its counter's bit in `pend`; the highest pending counter is read, then written back
    // one higher: two clocks per increment. The fast counters (events out and in, at least six
    // clocks apart) have the highest indices, so no increment waits long enough to meet the
    // next one of its counter; the others count frames, tens of clocks apart. STATUS reads a
    // counter when nothing is pending. After a reset a sweep writes zeros.
    localparam [1:0] C_IDLE = 2'd0, C_WRITE = 2'd1, C_LOOK = 2'd2;
    wire [12:0] inc;                   // one increment per counter and clock, from its unit
    reg  [12:0] pend;                  // counters with an increment to apply
    reg  [1:0]  c_st;
    reg  [3:0]  c_k;                   // the counter read last clock
    reg  [3:0]  c_pick;
    reg  [3:0]  c_clr;                 // the next counter the sweep clears
    reg         c_clear;
    wire [15:0] cnt_q;                 // counter c_k, in C_WRITE and C_LOOK
    wire        c_look_req;            // STATUS wants counter c_look_k
    wire [3:0]  c_look_k;
    integer ci;
    always @* begin
        c_pick = 4'd0;
        for (ci = 0; ci < 13; ci = ci + 1)
            if (pend[ci]) c_pick = ci[3:0];
    end
    wire       c_take = c_st == C_IDLE && !c_clear && pend != 13'd0;
    wire       c_look = c_st == C_IDLE && !c_clear && pend == 13'd0 && c_look_req;
    wire [3:0] c_raddr = c_take ? c_pick : c_look_k;
    always @(posedge clk) begin
        pend <= (pend & ~(c_take ? 13'd1 << c_pick : 13'd0)) | inc;
        c_st <= c_take ? C_WRITE : (c_look ? C_LOOK : C_IDLE);
        c_k <= c_raddr;
        if (c_clear) begin
            c_clr <= c_clr + 4'd1;
            if (c_clr == 4'd12) c_clear <= 1'b0;
        end
        if (rst) begin
            pend <= 13'd0;
            c_st <= C_IDLE;
            c_clr <= 4'd0;
            c_clear <= 1'b1;
        end
    end
    nt_ram #(.WIDTH(16), .DEPTH(16)) cnt_mem (
        .clk(clk), .we(c_st == C_WRITE || c_clear), .waddr(c_clear ? c_clr : c_k),
        .wdata(c_clear ? 16'd0 : cnt_q + 16'd1),
        .re(c_take || c_look), .raddr(c_raddr), .rdata(cnt_q));

    // ------------------------------------------------------------------------------ rx
    wire       rx_valid;
    wire [7:0] rx_byte;
    /* verilator lint_off UNUSEDSIGNAL */
    wire       rx_ferr;                // a framing error loses a byte; the CRC catches it
    /* verilator lint_on UNUSEDSIGNAL */
    nt_uart_rx #(.CLKS_PER_BIT(CLKS_PER_BIT)) urx (
        .clk(clk), .rst(rst), .rx(uart_rx), .valid(rx_valid), .data(rx_byte), .error(rx_ferr));

    reg        buf_full;               // the frame buffer holds a frame for disp
    reg        buf_release;            // disp is done with it (pulse)
    reg [7:0]  d_left;                 // bytes left in the current COBS block
    reg        d_ff, d_first, d_discard, d_store;
    reg [10:0] d_len;
    reg [31:0] d_crc;
    // The receive CRC goes a bit per clock (a byte arrives every 10 UART bits): a byte-wide
    // CRC-32 would cost a hundred LUTs more.
    reg [7:0]  d_sh;                   // bits of the last byte not yet in d_crc
    reg [3:0]  d_bits;
    reg [7:0]  h_ver, h_type, h_flags;
    reg [15:0] h_len;
    // The 32-bit header fields are compared a byte at a time as they arrive, not kept: the
    // sequence number against rx_expected (h_seq - rx_expected: zero, or its sign), an ACK's
    // or NAK's number against the buffered frame's (ACK: p32 - 1 == tb_seq; NAK: p32 ==
    // tb_seq). rx_expected keeps still while a frame that will be stored comes in (disp only
    // moves it with the buffer full); a frame committed meanwhile makes an ACK or NAK stale.
    reg        h_borrow, h_nz, h_neg, h_eq, tb_moved;
    reg        ack_seen, nak_seen;     // pulses to txb: the buffered frame was ACK'ed, NAK'ed
    reg [7:0]  r_type;                 // the stored frame, for disp
    reg        r_in_order, r_behind;   // its sequence number: the expected one, or before it
    reg [15:0] r_len;
    reg [31:0] rx_expected;            // the next sequence number to deliver (disp's)
    reg [31:0] tb_seq;                 // the buffered frame's sequence number (txb's)
    wire       tb_commit;              // txb takes a frame into the buffer (pulse)
    reg [5:0]  rx_inc;                 // C_FIN, C_CRC, C_COBS, C_HDR, C_AUTH, C_OVF

    wire is_code = d_left == 8'd0;
    wire emit = rx_valid && rx_byte != 8'd0 && !d_discard && (is_code ? (!d_first && !d_ff) : 1'b1);
    wire [7:0] emit_byte = is_code ? 8'd0 : rx_byte;
    wire       h_in_seq = d_len < 11'd8;            // bytes 3-6, else the p32 bytes 9-12
    wire [1:0] h_k = h_in_seq ? d_len[1:0] + 2'd1 : d_len[1:0] - 2'd1;
    wire [7:0] h_ref = h_in_seq ? rx_expected[8 * h_k +: 8] : tb_seq[8 * h_k +: 8];
    wire [8:0] h_sub = {1'b0, emit_byte} - {1'b0, h_ref} - {8'd0, h_borrow};
    wire [8:0] h_dec = {1'b0, emit_byte} - {8'd0, h_borrow};
    wire emit_over = d_len == MAX_DEC;
    wire known = h_type == T_EVENTS || h_type == T_TICK || h_type == T_CFG_W
              || h_type == T_CFG_R || h_type == T_CONTROL || h_type == T_STAT_RQ
              || h_type == T_HELLO || h_type == T_ACK || h_type == T_NAK;

    reg        rxm_we;
    reg [10:0] rxm_waddr;
    reg [7:0]  rxm_wdata;
    wire [10:0] rxm_raddr;
    wire        rxm_re;
    wire [7:0]  rxm_rdata;
    nt_ram #(.WIDTH(8), .DEPTH(2048)) rx_mem (
        .clk(clk), .we(rxm_we), .waddr(rxm_waddr), .wdata(rxm_wdata),
        .re(rxm_re), .raddr(rxm_raddr), .rdata(rxm_rdata));

    always @(posedge clk) begin
        rxm_we <= 1'b0;
        ack_seen <= 1'b0;
        nak_seen <= 1'b0;
        rx_inc <= 6'd0;
        if (buf_release) buf_full <= 1'b0;
        if (d_bits != 4'd0) begin
            d_crc <= {1'b0, d_crc[31:1]} ^ ((d_crc[0] ^ d_sh[0]) ? 32'hEDB88320 : 32'd0);
            d_sh <= d_sh >> 1;
            d_bits <= d_bits - 4'd1;
        end
        if (rst) begin
            buf_full <= 1'b0;
            d_left <= 8'd0;
            d_first <= 1'b1;
            d_discard <= 1'b0;
            d_len <= 11'd0;
            d_crc <= 32'hFFFFFFFF;
            d_bits <= 4'd0;
        end else if (rx_valid) begin
            if (rx_byte == 8'd0) begin
                if (!d_first && !d_discard) begin
                    if (d_left != 8'd0) rx_inc[3] <= 1'b1;                    // bad_cobs
                    else if (d_len < 11'd13) rx_inc[4] <= 1'b1;               // bad_header
                    else if (d_crc != CRC_RESIDUE) rx_inc[1] <= 1'b1;         // bad_crc
                    else if (h_ver != 8'd1) rx_inc[4] <= 1'b1;
                    else if (h_flags[0]) rx_inc[2] <= 1'b1;                   // bad_auth
                    else if (h_flags != 8'd0 || h_len > 16'd1024 || !known
                             || {5'd0, d_len} != h_len + 16'd13) rx_inc[4] <= 1'b1;
                    else begin
                        rx_inc[0] <= 1'b1;                                    // frames_in
                        if (h_type == T_ACK) begin
                            ack_seen <= h_eq && !tb_moved && !tb_commit;
                        end else if (h_type == T_NAK) begin
                            nak_seen <= h_eq && !tb_moved && !tb_commit;
                        end else if (d_store) begin
                            buf_full <= 1'b1;
                            r_type <= h_type;
                            r_in_order <= !h_nz;
                            r_behind <= h_neg;
                            r_len <= h_len;
                        end else rx_inc[5] <= 1'b1;                           // overflow
                    end
                end
                d_first <= 1'b1;
                d_discard <= 1'b0;
                d_left <= 8'd0;
                d_len <= 11'd0;
                d_crc <= 32'hFFFFFFFF;
            end else if (!d_discard) begin
                if (is_code) begin
                    d_left <= rx_byte - 8'd1;
                    d_ff <= rx_byte == 8'hFF;
                    d_first <= 1'b0;
                    if (d_first) d_store <= !buf_full;
                end else d_left <= d_left - 8'd1;
                if (emit) begin
                    if (emit_over) begin
                        d_discard <= 1'b1;
                        rx_inc[5] <= 1'b1;                                    // overflow
                    end else begin
                        rxm_we <= d_store;
                        rxm_waddr <= d_len;
                        rxm_wdata <= emit_byte;
                        d_sh <= emit_byte;
                        d_bits <= 4'd8;
                        d_len <= d_len + 11'd1;
                        case (d_len)
                            11'd0: h_ver <= emit_byte;
                            11'd1: h_type <= emit_byte;
                            11'd2: begin
                                h_flags <= emit_byte;
                                h_borrow <= 1'b0;
                                h_nz <= 1'b0;
                            end
                            11'd3, 11'd4, 11'd5, 11'd6: begin
                                h_borrow <= h_sub[8];
                                h_nz <= h_nz || h_sub[7:0] != 8'd0;
                                h_neg <= h_sub[7];
                            end
                            11'd7: h_len[7:0] <= emit_byte;
                            11'd8: begin
                                h_len[15:8] <= emit_byte;
                                h_borrow <= h_type == T_ACK;
                                h_eq <= 1'b1;
                                tb_moved <= 1'b0;
                            end
                            11'd9, 11'd10, 11'd11, 11'd12: begin
                                h_borrow <= h_dec[8];
                                h_eq <= h_eq && h_dec[7:0] == h_ref;
                            end
                            default: ;
                        endcase
                    end
                end
            end
        end
        if (tb_commit) tb_moved <= 1'b1;
    end

    // -------------------------------------------------------------------- transmit buffer
    localparam [1:0] TB_FREE = 2'd0, TB_BUILD = 2'd1, TB_READY = 2'd2, TB_SENT = 2'd3;
    reg [1:0]  tb_state;
    reg        tb_owner;               // 0 disp, 1 pack
    reg        tb_acked;
    reg [7:0]  tb_type;
    reg [15:0] tb_len;
    reg [$clog2(RTO_CYCLES+1)-1:0] tb_timer;
    reg        retx_inc;
    // byte writer: the owner puts 1..4 bytes of a word at an address
    reg [10:0] pw_addr;
    reg [1:0]  pw_k;                   // the byte of the owner's word being written
    reg [2:0]  pw_left;
    // requests from the owners
    reg        disp_want, pack_want;
    reg        disp_put, pack_put;
    reg [10:0] disp_put_addr, pack_put_addr;
    reg [31:0] pack_put_word;
    reg [2:0]  disp_put_n, pack_put_n;
    reg        disp_commit, pack_commit;
    reg [7:0]  disp_commit_type, pack_commit_type;
    reg [15:0] disp_commit_len, pack_commit_len;
    reg        link_reset;             // HELLO: a new conversation (pulse from disp)
    wire       enc_sending_seq;        // the encoder is reading the buffered frame
    wire       enc_sent;               // pulse: the buffered frame went out
    wire pw_idle = pw_left == 3'd0;
    // The owner's word keeps still until the writer is idle again (disp in D_PUT, pack in
    // P_PUT), so the writer takes its bytes from it rather than from a copy.
    wire [7:0] pw_byte = tb_owner ? pack_put_word[8 * pw_k +: 8] : w[8 * pw_k +: 8];
    wire grant_disp = tb_state == TB_BUILD && !tb_owner;
    wire grant_pack = tb_state == TB_BUILD && tb_owner;
    assign tb_commit = !rst && !link_reset && tb_state == TB_BUILD && pw_idle
                    && (tb_owner ? pack_commit : disp_commit);

    always @(posedge clk) begin
        retx_inc <= 1'b0;
        if (pw_left != 3'd0) begin
            pw_addr <= pw_addr + 11'd1;
            pw_k <= pw_k + 2'd1;
            pw_left <= pw_left - 3'd1;
        end
        if (rst || link_reset) begin
            tb_state <= TB_FREE;
            tb_acked <= 1'b0;
            tb_seq <= 32'hFFFFFFFF;     // the first frame is 0
            pw_left <= 3'd0;
        end else begin
            if (ack_seen && (tb_state == TB_READY || tb_state == TB_SENT)) tb_acked <= 1'b1;
            case (tb_state)
                TB_FREE: begin
                    tb_acked <= 1'b0;
                    if (disp_want) begin
                        tb_state <= TB_BUILD;
                        tb_owner <= 1'b0;
                    end else if (pack_want) begin
                        tb_state <= TB_BUILD;
                        tb_owner <= 1'b1;
                    end
                end
                TB_BUILD: begin
                    if (pw_idle && tb_owner && pack_cancel) tb_state <= TB_FREE;
                    if (pw_idle && (tb_owner ? pack_put : disp_put)) begin
                        pw_addr <= tb_owner ? pack_put_addr : disp_put_addr;
                        pw_k <= 2'd0;
                        pw_left <= tb_owner ? pack_put_n : disp_put_n;
                    end
                    if (tb_commit) begin
                        tb_type <= tb_owner ? pack_commit_type : disp_commit_type;
                        tb_len <= tb_owner ? pack_commit_len : disp_commit_len;
                        tb_seq <= tb_seq + 32'd1;
                        tb_state <= TB_READY;
                    end
                end
                TB_READY: if (tb_acked && !enc_sending_seq) tb_state <= TB_FREE;
                default: begin         // TB_SENT
                    tb_timer <= tb_timer + 1'b1;
                    if (tb_acked || ack_seen) begin
                        tb_state <= TB_FREE;
                    end else if (nak_seen
                                 || tb_timer == RTO_CYCLES[$clog2(RTO_CYCLES+1)-1:0]) begin
                        tb_state <= TB_READY;
                        retx_inc <= 1'b1;
                    end
                end
            endcase
            if (enc_sent && tb_state == TB_READY) begin
                tb_state <= tb_acked ? TB_FREE : TB_SENT;
                tb_timer <= 0;
            end
        end
    end

    wire [10:0] txm_raddr;
    wire [7:0]  txm_rdata;
    nt_ram #(.WIDTH(8), .DEPTH(2048)) tx_mem (
        .clk(clk), .we(pw_left != 3'd0), .waddr(pw_addr), .wdata(pw_byte),
        .re(1'b1), .raddr(txm_raddr), .rdata(txm_rdata));

    // -------------------------------------------------------------------------- dispatcher
    localparam [4:0] D_IDLE = 5'd0, D_FETCH = 5'd1, D_TYPE = 5'd2, D_HELLO = 5'd3,
                     D_DONE = 5'd4, D_EV_BASE = 5'd5, D_EV_COUNT = 5'd6, D_EV_NEXT = 5'd7,
                     D_EV = 5'd8, D_ADV = 5'd9, D_PUSH = 5'd10, D_CW_ADDR = 5'd11,
                     D_CW_NEXT = 5'd12, D_CW = 5'd13, D_CR_ADDR = 5'd14, D_CR_LEN = 5'd15,
                     D_CR_REQ = 5'd16, D_CR_WAIT = 5'd17, D_CTL_OP = 5'd18, D_CTL_ARG = 5'd19,
                     D_RESET = 5'd20, D_RUN = 5'd21, D_STATUS = 5'd22, D_ERR = 5'd23,
                     D_ACQ = 5'd24, D_PUT = 5'd25, D_TICK = 5'd27,
                     D_CR_START = 5'd28, D_ERR_DETAIL = 5'd29, D_ERR_COMMIT = 5'd30;
    reg [4:0]  ds, ft_ret, acq_ret, put_ret;
    reg [2:0]  ft_need, ft_issued, ft_got;
    reg        ft_pend;
    reg [10:0] rp;                     // read pointer into the frame buffer
    reg [31:0] w;                      // fetched little-endian bytes; the word put or written
    reg [31:0] in_steps;               // ticks pushed since the RUN began
    reg        adv_event;              // push `ev_x` once the target step is reached
    reg [8:0]  ev_left;                // events left in the frame (at most 254)
    reg [15:0] ev_x;
    reg [31:0] ev_base;
    reg [16:0] cw_addr;
    reg [8:0]  cw_left;                // words left to write or read
    reg [10:0] cr_len;
    reg [31:0] ctl_arg;                // CONTROL argument, CONFIG_READ address, ERROR detail
    reg [7:0]  ctl_op;
    reg [7:0]  err_code;
    reg [3:0]  st_k;
    reg [10:0] put_at;
    reg        disp_ack, disp_nak, disp_hello;   // pulses to enc
    reg        run_start, run_reset;              // pulses to pack
    reg        dup_inc, ooo_inc, evin_inc;
    wire       run_active;
    wire [31:0] ev_step = ev_base + {24'd0, w[31:24]};
    wire [31:0] adv_gap = w - in_steps;   // in D_ADV, w holds the target step
    wire [15:0] payload_words = (r_len - 16'd4) >> 2;
    wire enc_idle;

    assign rxm_re = ds == D_FETCH && ft_issued != ft_need;
    assign rxm_raddr = rp;

    always @(posedge clk) begin
        buf_release <= 1'b0;
        disp_ack <= 1'b0;
        disp_nak <= 1'b0;
        disp_hello <= 1'b0;
        run_start <= 1'b0;
        run_reset <= 1'b0;
        link_reset <= 1'b0;
        disp_put <= 1'b0;
        disp_commit <= 1'b0;
        dup_inc <= 1'b0;
        ooo_inc <= 1'b0;
        evin_inc <= 1'b0;
        if (rst) begin
            ds <= D_IDLE;
            in_valid <= 1'b0;
            cfg_valid <= 1'b0;
            disp_want <= 1'b0;
            rx_expected <= 32'd0;
            in_steps <= 32'd0;
        end else case (ds)
            D_IDLE: if (buf_full && !buf_release) begin
                rp <= 11'd9;
                if (r_type == T_HELLO) ds <= D_HELLO;
                else if (r_in_order) begin
                    rx_expected <= rx_expected + 32'd1;
                    ds <= D_TYPE;
                end else begin
                    // behind: delivered before (our ACK was lost); ahead: one went missing
                    if (r_behind) dup_inc <= 1'b1;
                    else begin
                        ooo_inc <= 1'b1;
                        disp_nak <= 1'b1;
                    end
                    ds <= D_DONE;
                end
            end
            D_FETCH: begin
                if (ft_issued != ft_need) begin
                    rp <= rp + 11'd1;
                    ft_issued <= ft_issued + 3'd1;
                end
                ft_pend <= ft_issued != ft_need;
                if (ft_pend) begin
                    w[8 * ft_got +: 8] <= rxm_rdata;
                    ft_got <= ft_got + 3'd1;
                    if (ft_got + 3'd1 == ft_need) ds <= ft_ret;
                end
            end
            D_HELLO: if (enc_idle) begin
                link_reset <= 1'b1;
                run_reset <= 1'b1;
                disp_hello <= 1'b1;
                rx_expected <= 32'd0;
                in_steps <= 32'd0;
                disp_want <= 1'b0;
                buf_release <= 1'b1;
                ds <= D_IDLE;
            end
            D_DONE: begin
                disp_ack <= 1'b1;
                buf_release <= 1'b1;
                ds <= D_IDLE;
            end
            D_TYPE: case (r_type)
                T_EVENTS: fetch(3'd4, D_EV_BASE);
                T_TICK: fetch(3'd4, D_TICK);
                T_CFG_W: fetch(3'd4, D_CW_ADDR);
                T_CFG_R: fetch(3'd4, D_CR_ADDR);
                T_CONTROL: fetch(3'd1, D_CTL_OP);
                T_STAT_RQ: begin
                    st_k <= 4'd0;
                    put_at <= 11'd9;
                    acquire(D_STATUS);
                end
                default: error(E_BAD_CONFIG, {24'd0, r_type});
            endcase
            // EVENTS: base u32, count u16, count x (x u16, p i8, dt u8)
            D_EV_BASE: begin
                ev_base <= w;
                fetch(3'd2, D_EV_COUNT);
            end
            D_EV_COUNT: begin
                ev_left <= w[8:0];
                if (w[15:9] != 7'd0 || r_len != 16'd6 + {5'd0, w[8:0], 2'b00}) error(E_BAD_CONFIG, {16'd0, r_len});
                else ds <= D_EV_NEXT;
            end
            D_EV_NEXT: if (ev_left == 9'd0) ds <= D_DONE; else fetch(3'd4, D_EV);
            D_EV: begin
                ev_x <= w[15:0];
                ev_left <= ev_left - 9'd1;
                w <= ev_step;
                adv_event <= 1'b1;
                ds <= D_ADV;
            end
            D_TICK: begin
                adv_event <= 1'b0;
                ds <= D_ADV;
            end
            // Push ticks until the input has reached the target step (w), then the event, if
            // any.
            D_ADV: begin
                if (in_valid) begin
                    if (in_ready) begin
                        in_valid <= 1'b0;
                        in_steps <= in_steps + 32'd1;
                    end
                end else if (adv_gap[31]) begin
                    error(E_BAD_STATE, w);     // an event for a step already run
                end else if (adv_gap != 32'd0) begin
                    in_valid <= 1'b1;
                    in_data <= 16'h8000;
                end else if (adv_event) begin
                    ds <= D_PUSH;
                end else ds <= (r_type == T_CONTROL) ? D_RUN : D_DONE;
            end
            D_PUSH: begin
                if (in_valid && in_ready) begin
                    in_valid <= 1'b0;
                    evin_inc <= 1'b1;
                    ds <= D_EV_NEXT;
                end else if (!in_valid) begin
                    if (ev_x[15:8] != 8'd0) begin       // no such input: count, drop
                        evin_inc <= 1'b1;
                        ds <= D_EV_NEXT;
                    end else begin
                        in_valid <= 1'b1;
                        in_data <= {8'd0, ev_x[7:0]};
                    end
                end
            end
            // CONFIG_WRITE: address u32, words
            D_CW_ADDR: begin
                cw_addr <= w[16:0];
                cw_left <= payload_words[8:0];
                if (r_len[1:0] != 2'd0 || r_len < 16'd4 || w[31:17] != 15'd0
                    || {15'd0, w[16:0]} + {16'd0, payload_words} > 32'h20000)
                    error(E_BAD_CONFIG, w);
                else ds <= D_CW_NEXT;
            end
            D_CW_NEXT: if (cw_left == 9'd0) ds <= D_DONE; else fetch(3'd4, D_CW);
            D_CW: begin
                if (cfg_valid && cfg_ready) begin
                    cfg_valid <= 1'b0;
                    cw_addr <= cw_addr + 17'd1;
                    cw_left <= cw_left - 9'd1;
                    ds <= D_CW_NEXT;
                end else if (!cfg_valid) begin
                    cfg_valid <= 1'b1;
                    cfg_we <= 1'b1;
                end
            end
            // CONFIG_READ: address u32, length u16 (bytes) -> CONFIG_DATA
            D_CR_ADDR: begin
                cw_addr <= w[16:0];
                ctl_arg <= w;
                fetch(3'd2, D_CR_LEN);
            end
            D_CR_LEN: begin
                cw_left <= w[10:2];     // at most 255 words, or an error below
                cr_len <= w[10:0];
                if (r_len != 16'd6 || w[1:0] != 2'd0 || w[15:0] > 16'd1020
                    || ctl_arg[31:17] != 15'd0
                    || {15'd0, ctl_arg[16:0]} + {18'd0, w[15:2]} > 32'h20000)
                    error(E_BAD_CONFIG, ctl_arg);
                else acquire(D_CR_START);
            end
            D_CR_START: begin
                put_at <= 11'd13;
                put(11'd9, 3'd4, ctl_arg, D_CR_REQ);
            end
            D_CR_REQ: begin
                if (cw_left == 9'd0) commit(T_CFG_D, {5'd0, cr_len} + 16'd4);
                else if (cfg_valid && cfg_ready) begin
                    cfg_valid <= 1'b0;
                    ds <= D_CR_WAIT;
                end else if (!cfg_valid) begin
                    cfg_valid <= 1'b1;
                    cfg_we <= 1'b0;
                end
            end
            D_CR_WAIT: if (cfg_rvalid) begin
                cw_addr <= cw_addr + 17'd1;
                cw_left <= cw_left - 9'd1;
                put_at <= put_at + 11'd4;
                put(put_at, 3'd4, cfg_rdata, D_CR_REQ);
            end
            // CONTROL: op u8, argument u32
            D_CTL_OP: begin
                ctl_op <= w[7:0];
                fetch(3'd4, D_CTL_ARG);
            end
            D_CTL_ARG: begin
                ctl_arg <= w;
                case (ctl_op)
                    8'd0: begin                 // RESET: flags, then CLEAR
                        cw_left <= 9'd2;
                        ds <= D_RESET;
                    end
                    8'd1: if (!run_active) begin  // RUN n
                        adv_event <= 1'b0;
                        ds <= D_ADV;
                    end
                    default: error(E_BAD_CONFIG, {24'd0, ctl_op});
                endcase
            end
            D_RESET: begin
                if (cfg_valid && cfg_ready) begin
                    cfg_valid <= 1'b0;
                    cw_left <= cw_left - 9'd1;
                end else if (!cfg_valid) begin
                    if (cw_left == 9'd0) begin
                        in_steps <= 32'd0;
                        run_reset <= 1'b1;
                        ds <= D_DONE;
                    end else begin
                        cfg_valid <= 1'b1;
                        cfg_we <= 1'b1;
                        cw_addr <= (cw_left == 9'd2) ? 17'd1 : 17'd0;
                        w <= (cw_left == 9'd2) ? 32'h3F : 32'd1;
                    end
                end
            end
            D_RUN: begin
                run_start <= 1'b1;
                in_steps <= 32'd0;
                ds <= D_DONE;
            end
            D_STATUS: begin
                if (st_k == 4'd13) commit(T_STATUS, 16'd52);
                else if (c_st == C_LOOK && c_k == st_k) begin
                    st_k <= st_k + 4'd1;
                    put_at <= put_at + 11'd4;
                    put(put_at, 3'd4, {16'd0, cnt_q}, D_STATUS);
                end
            end
            // ERROR: code u8, detail u32
            D_ERR: put(11'd9, 3'd1, {24'd0, err_code}, D_ERR_DETAIL);
            D_ERR_DETAIL: put(11'd10, 3'd4, ctl_arg, D_ERR_COMMIT);
            D_ERR_COMMIT: commit(T_ERROR, 16'd5);
            // acquire the transmit buffer, then go on at acq_ret
            D_ACQ: if (grant_disp) ds <= acq_ret;
            // wait until the byte writer has taken and written the bytes, then put_ret
            D_PUT: if (!disp_put && pw_idle) ds <= put_ret;
            default: ds <= D_IDLE;
        endcase
    end


    // ------------------------------------------------------------------------------ packer
    localparam [3:0] P_IDLE = 4'd0, P_ACQ = 4'd1, P_PUT = 4'd2, P_FLUSH = 4'd3,
                     P_FLUSH_COMMIT = 4'd5, P_TICK = 4'd6,
                     P_TICK_COMMIT = 4'd7, P_SETTLE = 4'd8;
    reg [3:0]  ps, p_acq_ret, p_put_ret;
    reg [7:0]  p_count;                // events in the frame being built
    reg [8:0]  p_span;                 // output ticks since its first step; [8] sticks
    reg [31:0] out_steps;              // output ticks since the RUN began
    reg [31:0] p_target;
    reg        p_active;               // a RUN is waiting for its output ticks
    reg        pack_cancel;            // give the buffer back unused (pulse)
    reg        evout_inc;
    wire p_own = grant_pack;
    wire p_run_done = p_active && out_steps == p_target;
    wire p_reset = run_reset || link_reset;
    wire p_ready = ps == P_IDLE && !p_reset && !p_run_done && out_valid;
    wire p_take_event = p_ready && !out_data[15] && p_own && p_count != 8'd254
                     && !p_span[8];
    // Events of many steps share a frame: it goes when full, when a step lies 256 past its
    // first, when the RUN ends, or when disp needs the buffer.
    wire p_take_tick = p_ready && out_data[15] && (!p_own || p_count != 8'd0);
    wire p_flush = p_own && p_count != 8'd0 && disp_want;
    assign out_ready = p_take_event || p_take_tick;
    assign run_active = p_active;

    always @(posedge clk) begin
        pack_put <= 1'b0;
        pack_commit <= 1'b0;
        pack_cancel <= 1'b0;
        evout_inc <= 1'b0;
        if (rst || p_reset) begin
            ps <= P_IDLE;
            pack_want <= 1'b0;
            p_count <= 8'd0;
            out_steps <= 32'd0;
            p_active <= 1'b0;
        end else begin
            if (run_start) begin
                p_active <= 1'b1;
                p_target <= ctl_arg;   // the RUN's step count, held by disp
            end
            case (ps)
                P_IDLE: begin
                    if (p_take_tick) begin
                        out_steps <= out_steps + 32'd1;
                        if (!p_span[8]) p_span <= p_span + 9'd1;
                    end
                    if (p_take_event) begin
                        p_count <= p_count + 8'd1;
                        evout_inc <= 1'b1;
                        pack_put <= 1'b1;
                        pack_put_addr <= 11'd15 + {1'b0, p_count, 2'b00};
                        pack_put_word <= {p_span[7:0], 8'd1, 8'd0, out_data[7:0]};
                        pack_put_n <= 3'd4;
                        p_put_ret <= P_IDLE;
                        ps <= P_PUT;
                    end else if (p_run_done) begin
                        if (p_own && p_count != 8'd0) ps <= P_FLUSH;
                        else if (p_own) ps <= P_TICK;
                        else begin
                            pack_want <= 1'b1;
                            p_acq_ret <= P_TICK;
                            ps <= P_ACQ;
                        end
                    end else if (p_flush || (p_ready && !out_data[15] && p_own)) begin
                        ps <= P_FLUSH;         // full, too long a span, or yielding
                    end else if (p_own && p_count == 8'd0 && pw_idle) begin
                        pack_cancel <= 1'b1;
                        ps <= P_SETTLE;
                    end else if (p_ready && !out_data[15] && !p_own) begin
                        pack_want <= 1'b1;
                        p_acq_ret <= P_IDLE;
                        ps <= P_ACQ;
                    end
                end
                // the frame's first step (EVENTS base) goes in now: the span counts from it
                P_ACQ: if (p_own) begin
                    pack_want <= 1'b0;
                    p_span <= 9'd0;
                    p_count <= 8'd0;
                    pack_put <= 1'b1;
                    pack_put_addr <= 11'd9;
                    pack_put_word <= out_steps;
                    pack_put_n <= 3'd4;
                    p_put_ret <= p_acq_ret;
                    ps <= P_PUT;
                end
                P_PUT: if (!pack_put && pw_idle) ps <= p_put_ret;
                // EVENTS: the count u16 after the base, in front of the events
                P_FLUSH: begin
                    pack_put <= 1'b1;
                    pack_put_addr <= 11'd13;
                    pack_put_word <= {24'd0, p_count};
                    pack_put_n <= 3'd2;
                    p_put_ret <= P_FLUSH_COMMIT;
                    ps <= P_PUT;
                end
                P_FLUSH_COMMIT: begin
                    pack_commit <= 1'b1;
                    pack_commit_type <= T_EVENTS;
                    pack_commit_len <= 16'd6 + {6'd0, p_count, 2'b00};
                    p_count <= 8'd0;
                    ps <= P_SETTLE;
                end
                // the buffer changes hands in this clock: grant_pack is not yet current
                P_SETTLE: ps <= P_IDLE;
                // TICK: the RUN's step count; all its events went before
                P_TICK: begin
                    pack_put <= 1'b1;
                    pack_put_addr <= 11'd9;
                    pack_put_word <= p_target;
                    pack_put_n <= 3'd4;
                    p_put_ret <= P_TICK_COMMIT;
                    ps <= P_PUT;
                end
                default: begin         // P_TICK_COMMIT
                    pack_commit <= 1'b1;
                    pack_commit_type <= T_TICK;
                    pack_commit_len <= 16'd4;
                    p_active <= 1'b0;
                    out_steps <= 32'd0;
                    ps <= P_SETTLE;
                end
            endcase
        end
    end

    // ----------------------------------------------------------------------------- encoder
    localparam [3:0] E_IDLE = 4'd0, E_SCAN = 4'd2, E_SCAN_WAIT = 4'd3,
                     E_SCAN_CHK = 4'd4, E_CODE = 4'd5, E_EMIT = 4'd6, E_EMIT_WAIT = 4'd7,
                     E_EMIT_WR = 4'd8, E_NEXT = 4'd9, E_DELIM = 4'd10;
    localparam [1:0] K_SEQ = 2'd0, K_ACK = 2'd1, K_NAK = 2'd2, K_HELLO = 2'd3;
    reg [3:0]  es;
    reg [1:0]  e_kind;
    reg [31:0] e_p32, e_crc;
    reg [10:0] e_i;                    // the byte being read (one clock of latency)
    reg [10:0] e_n;                    // header + payload bytes (the CRC follows)
    reg [10:0] e_p, e_q, e_j;          // block start, scan position, emit position
    reg        ack_pend, nak_pend, hello_pend;
    reg        fout_inc, e_sent;
    reg [7:0]  e_byte_r;
    reg        e_ram_r;
    reg [7:0]  e_byte;
    wire [10:0] e_t = e_n + 11'd4;
    wire [10:0] e_blk = e_q - e_p;
    wire [10:0] e_pl = e_i - 11'd9;    // payload index
    wire [1:0]  e_ci = e_i[1:0] - e_n[1:0];  // CRC byte index
    wire [7:0]  src = e_ram_r ? txm_rdata : e_byte_r;
    // The header of the frame being sent: the buffered frame's (which keeps still while it is
    // sent) or a control frame's.
    wire [7:0]  e_type = e_kind == K_SEQ ? tb_type
                       : (e_kind == K_ACK ? T_ACK : (e_kind == K_NAK ? T_NAK : T_HELLO));
    wire [15:0] e_len = e_kind == K_SEQ ? tb_len
                      : (e_kind == K_ACK ? 16'd6 : (e_kind == K_NAK ? 16'd5
                                                    : {5'd0, NAME_LEN} + 16'd3));
    wire [31:0] e_seq = e_kind == K_SEQ ? tb_seq : 32'd0;
    wire        tx_ready;
    wire        tx_valid = es == E_CODE || es == E_EMIT_WR || es == E_DELIM;
    wire [7:0]  tx_data = es == E_CODE ? e_blk[7:0] + 8'd1 : (es == E_EMIT_WR ? src : 8'd0);
    assign txm_raddr = e_i;
    assign enc_idle = es == E_IDLE;
    assign enc_sending_seq = es != E_IDLE && e_kind == K_SEQ;
    assign enc_sent = e_sent;

    nt_uart_tx #(.CLKS_PER_BIT(CLKS_PER_BIT)) utx (
        .clk(clk), .rst(rst), .valid(tx_valid), .ready(tx_ready), .data(tx_data),
        .tx(uart_tx));

    // The byte at e_i of the frame being sent, except buffered payload (from tx_mem).
    always @* begin
        e_byte = 8'd0;
        if (e_i < 11'd9) begin
            case (e_i[3:0])
                4'd0: e_byte = 8'd1;
                4'd1: e_byte = e_type;
                4'd3: e_byte = e_seq[7:0];
                4'd4: e_byte = e_seq[15:8];
                4'd5: e_byte = e_seq[23:16];
                4'd6: e_byte = e_seq[31:24];
                4'd7: e_byte = e_len[7:0];
                4'd8: e_byte = e_len[15:8];
                default: e_byte = 8'd0;
            endcase
        end else if (e_i < e_n) begin
            if (e_kind == K_HELLO) begin
                if (e_pl == 11'd0) e_byte = 8'd1;
                else if (e_pl == 11'd2) e_byte = 8'd4;        // max payload 1024
                else if (e_pl >= 11'd3) e_byte = name_byte(e_pl[3:0] - 4'd3);
            end else if (e_pl < 11'd4) e_byte = e_p32[8 * e_pl[1:0] +: 8];
            else if (e_kind == K_NAK) e_byte = 8'd1;          // reason: gap
            else if (e_pl == 11'd4) e_byte = CREDITS[7:0];
            else e_byte = CREDITS[15:8];
        end else e_byte = ~e_crc[8 * e_ci +: 8];
    end

    always @(posedge clk) begin
        e_byte_r <= e_byte;
        e_ram_r <= e_kind == K_SEQ && e_i >= 11'd9 && e_i < e_n;
        fout_inc <= 1'b0;
        e_sent <= 1'b0;
        if (rst || link_reset) begin
            es <= E_IDLE;
            ack_pend <= 1'b0;
            nak_pend <= 1'b0;
            hello_pend <= 1'b0;
        end else begin
            case (es)
                E_IDLE: begin
                    e_p <= 11'd0;
                    e_q <= 11'd0;
                    e_crc <= 32'hFFFFFFFF;
                    e_p32 <= rx_expected;
                    if (hello_pend) begin
                        hello_pend <= 1'b0;
                        e_kind <= K_HELLO;
                        e_n <= NAME_LEN + 11'd12;
                        es <= E_SCAN;
                    end else if (nak_pend) begin
                        nak_pend <= 1'b0;
                        e_kind <= K_NAK;
                        e_n <= 11'd14;
                        es <= E_SCAN;
                    end else if (ack_pend) begin
                        ack_pend <= 1'b0;
                        e_kind <= K_ACK;
                        e_n <= 11'd15;
                        es <= E_SCAN;
                    end else if (tb_state == TB_READY && !tb_acked) begin
                        e_kind <= K_SEQ;
                        e_n <= tb_len[10:0] + 11'd9;
                        es <= E_SCAN;
                    end
                end
                // COBS: a block is up to 254 non-zero bytes, ended by a zero or the end. The
                // scan reads every byte once, in order, so it also runs the CRC: the CRC bytes
                // are read only after all the bytes they cover.
                E_SCAN: begin
                    if (e_blk == 11'd254 || e_q == e_t) es <= E_CODE;
                    else begin
                        e_i <= e_q;
                        es <= E_SCAN_WAIT;
                    end
                end
                E_SCAN_WAIT: es <= E_SCAN_CHK;
                E_SCAN_CHK: begin
                    if (e_q < e_n) e_crc <= crc32_byte(e_crc, src);
                    if (src == 8'd0) es <= E_CODE;
                    else begin
                        e_q <= e_q + 11'd1;
                        es <= E_SCAN;
                    end
                end
                E_CODE: if (tx_ready) begin
                    e_j <= e_p;
                    es <= E_EMIT;
                end
                E_EMIT: begin
                    if (e_j == e_q) es <= E_NEXT;
                    else begin
                        e_i <= e_j;
                        es <= E_EMIT_WAIT;
                    end
                end
                E_EMIT_WAIT: es <= E_EMIT_WR;
                E_EMIT_WR: if (tx_ready) begin
                    e_j <= e_j + 11'd1;
                    es <= E_EMIT;
                end
                E_NEXT: begin
                    if (e_blk == 11'd254) begin
                        e_p <= e_q;            // a full block: no zero to skip
                        es <= E_SCAN;
                    end else if (e_q == e_t) es <= E_DELIM;
                    else begin
                        e_p <= e_q + 11'd1;    // skip the zero the block code stands for
                        e_q <= e_q + 11'd1;
                        es <= E_SCAN;
                    end
                end
                default: if (tx_ready) begin  // E_DELIM
                    fout_inc <= 1'b1;
                    e_sent <= e_kind == K_SEQ;
                    es <= E_IDLE;
                end
            endcase
        end
        // After the reset above: a HELLO's answer is requested in the clock that resets.
        if (!rst) begin
            if (disp_ack) ack_pend <= 1'b1;
            if (disp_nak) nak_pend <= 1'b1;
            if (disp_hello) hello_pend <= 1'b1;
        end
    end

    // Work in hand: a frame, a reply to send, a RUN waiting for its output ticks.
    // The configuration port: the address counter and the fetched (or reset) word.
    assign cfg_addr = cw_addr;
    assign cfg_wdata = w;

    assign busy = buf_full || ds != D_IDLE || !enc_idle || p_active || tb_state == TB_READY
               || ack_pend || nak_pend || hello_pend;

    assign c_look_req = ds == D_STATUS && st_k != 4'd13;
    assign c_look_k = st_k;
    assign inc = {evout_inc, evin_inc, retx_inc, rx_inc[5], ooo_inc, dup_inc, 1'b0, rx_inc[2],
                  rx_inc[4], rx_inc[3], rx_inc[1], fout_inc, rx_inc[0]};

    task fetch(input [2:0] n, input [4:0] ret);
        begin
            ft_need <= n;
            ft_issued <= 3'd0;
            ft_got <= 3'd0;
            ft_pend <= 1'b0;
            w <= 32'd0;
            ft_ret <= ret;
            ds <= D_FETCH;
        end
    endtask

    task acquire(input [4:0] ret);
        begin
            disp_want <= 1'b1;
            acq_ret <= ret;
            ds <= D_ACQ;
        end
    endtask

    task put(input [10:0] at, input [2:0] n, input [31:0] word, input [4:0] ret);
        begin
            disp_put <= 1'b1;
            disp_put_addr <= at;
            w <= word;
            disp_put_n <= n;
            put_ret <= ret;
            ds <= D_PUT;
        end
    endtask

    task commit(input [7:0] t, input [15:0] len);
        begin
            disp_commit <= 1'b1;
            disp_commit_type <= t;
            disp_commit_len <= len;
            disp_want <= 1'b0;
            ds <= D_DONE;
        end
    endtask

    task error(input [7:0] code, input [31:0] detail);
        begin
            err_code <= code;
            ctl_arg <= detail;
            acquire(D_ERR);
        end
    endtask
endmodule

`default_nettype wire
