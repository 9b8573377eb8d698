"""SIP message parsing: RFC 4475's torture messages, RFC 5118's IPv6 ones, round trips,
and fuzzing (nothing but SipParseError may come out of parse_message)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnivox.media.sip.fields import parse_name_address, parse_via
from omnivox.media.sip.headers import Headers, canonical_name
from omnivox.media.sip.message import SipRequest, SipResponse, parse_message
from omnivox.media.sip.syntax import SipParseError
from omnivox.media.sip.uri import parse_uri

SDP = (
    "v=0\n"
    "o=mhandley 29739 7272939 IN IP4 192.0.2.3\n"
    "s=-\n"
    "c=IN IP4 192.0.2.4\n"
    "t=0 0\n"
    "m=audio 49217 RTP/AVP 0 12\n"
    "m=video 3227 RTP/AVP 31\n"
    "a=rtpmap:31 LPC\n"
)


def sip(text: str | bytes) -> bytes:
    """A message written with \\n line ends, sent with CRLF; `<LEN>` is the body's length."""
    raw = text.encode() if isinstance(text, str) else text
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if b"<LEN>" in raw:
        body = raw.split(b"\r\n\r\n", 1)[1]
        raw = raw.replace(b"<LEN>", str(len(body)).encode(), 1)
    return raw


def request(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


def response(data: bytes) -> SipResponse:
    message = parse_message(data)
    assert isinstance(message, SipResponse)
    return message


# RFC 4475 3.1.1: valid messages ----------------------------------------------------

WSINV = sip(
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\n"
    "TO :\n"
    " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\n"
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\n'
    "  ;\n"
    "  tag = 98asjd8\n"
    "MaX-fOrWaRdS: 0068\n"
    "Call-ID: wsinv.ndaksdj@192.0.2.1\n"
    "Content-Length   : 150\n"
    "cseq: 0009\n"
    "  INVITE\n"
    "Via  : SIP  /   2.0\n"
    " /UDP\n"
    "    192.0.2.2;branch=390skdjuw\n"
    "s :\n"
    "NewFangledHeader:   newfangled value\n"
    " continued newfangled value\n"
    "UnknownHeaderWithUnusualValue: ;;,,;;,;\n"
    "Content-Type: application/sdp\n"
    "Route:\n"
    " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\n"
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\n"
    "  branch  =   z9hG4bK9ikj8  ,\n"
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n"
    " z9hG4bK30239\n"
    'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\n'
    "      newvalue ;\n"
    "  secondparam ; q = 0.33\n"
    "\n" + SDP
)

INTMETH = sip(
    b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/"
    b"crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\n"
    b"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\n"
    b'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*'
    b"@example.com>\n"
    b"From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="
    + '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"'.encode()
    + b";tag=_token~1'+`*%!-.\n"
    b"Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\n"
    b"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\n"
    b"Max-Forwards: 255\n"
    b"extensionHeader-!.%*+_`'~:" + "\ufeff\u5927\u505c\u96fb".encode() + b"\n"
    b"Content-Length: 0\n\n"
)

ESC01 = sip(
    "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\n"
    "To: sip:%75se%72@example.com\n"
    "From: <sip:I%20have%20spaces@example.net>;tag=938\n"
    "Max-Forwards: 87\n"
    "i: esc01.239409asdfakjkn23onasd0-3234\n"
    "CSeq: 234234 INVITE\n"
    "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\n"
    "C: application/sdp\n"
    "Contact:\n"
    "  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\n"
    "Content-Length: <LEN>\n\n" + SDP
)

ESCNULL = sip(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:null-%00-null@example.com\n"
    "From: sip:null-%00-null@example.com;tag=839923423\n"
    "Max-Forwards: 70\n"
    "Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\n"
    "CSeq: 14398234 REGISTER\n"
    "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\n"
    "Contact: <sip:%00@host5.example.com>\n"
    "Contact: <sip:%00%00@host5.example.com>\n"
    "L:0\n\n"
)

ESC02 = sip(
    "RE%47IST%45R sip:registrar.example.com SIP/2.0\n"
    'To: "%Z%45" <sip:resource@example.com>\n'
    'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23\n'
    "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\n"
    "Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234\n"
    "CSeq: 29344 RE%47IST%45R\n"
    "Max-Forwards: 70\n"
    "Contact: <sip:alias1@host1.example.com>\n"
    "C%6Fntact: <sip:alias2@host2.example.com>\n"
    "Contact: <sip:alias3@host3.example.com>\n"
    "l: 0\n\n"
)

LWSDISP = sip(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: caller<sip:caller@example.com>;tag=323\n"
    "Max-Forwards: 70\n"
    "Call-ID: lwsdisp.1234abcd@funky.example.com\n"
    "CSeq: 60 OPTIONS\n"
    "Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\n"
    "l: 0\n\n"
)

_VIA_CASES = ["Via", "v", "V", "Via", "ViA", "VIa", "VIA", "via", "viA", "vIa", "vIA"]
_VIA_CASES += ["V ", "v ", "V  ", "v  ", "Via ", "Via  "] + ["Via"] * 16
LONGREQ = sip(
    "INVITE sip:user@example.com SIP/2.0\n"
    f'To: "I have a user name of {"extreme" * 10} proportion"'
    f" <sip:user@example.com:6000;unknownparam1=very{'long' * 20}value;"
    f"longparam{'name' * 25}=shortvalue;very{'long' * 25}ParameterNameWithNoValue>\n"
    f"F: sip:{'amazinglylongcallername' * 5}@example.net;tag=12{'982' * 50}424;"
    f"unknownheaderparam{'name' * 20}=unknowheaderparam{'value' * 15};"
    f"unknownValueless{'paramname' * 10}\n"
    f"Call-ID: longreq.one{'really' * 20}longcallid\n"
    "CSeq: 3882340 INVITE\n"
    f"Unknown-{'Long' * 20}-Name: unknown-{'long' * 20}-value; "
    f"unknown-{'long' * 20}-parameter-name = unknown-{'long' * 20}-parameter-value\n"
    + "".join(f"{name}: SIP/2.0/TCP sip{33 - i}.example.com\n" for i, name in enumerate(_VIA_CASES))
    + "Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;"
    f"branch=very{'long' * 50}branchvalue\n"
    "Max-Forwards: 70\n"
    f"Contact: <sip:{'amazinglylongcallername' * 5}@host5.example.net>\n"
    "Content-Type: application/sdp\n"
    "l: <LEN>\n\n" + SDP
)

DBLREQ = sip(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:j.user@example.com\n"
    "From: sip:j.user@example.com;tag=43251j3j324\n"
    "Max-Forwards: 8\n"
    "I: dblreq.0ha0isndaksdj99sdfafnl3lk233412\n"
    "Contact: sip:j.user@host.example.com\n"
    "CSeq: 8 REGISTER\n"
    "Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\n"
    "Content-Length: 0\n\n"
    "INVITE sip:joe@example.com SIP/2.0\n"
    "t: sip:joe@example.com\n"
    "From: sip:caller@example.net;tag=141334\n"
    "Max-Forwards: 8\n"
    "Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\n"
    "Content-Type: application/sdp\n"
    "Content-Length: 150\n\n" + SDP
)

SEMIURI = sip(
    "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\n"
    "To: sip:j_user@example.com\n"
    "From: sip:caller@example.org;tag=33242\n"
    "Max-Forwards: 3\n"
    "Call-ID: semiuri.0ha0isndaksdj\n"
    "CSeq: 8 OPTIONS\n"
    "Accept: application/sdp, application/pkcs7-mime,\n"
    "        multipart/mixed, multipart/signed,\n"
    "        message/sip, message/sipfrag\n"
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\n"
    "l: 0\n\n"
)

TRANSPORTS = sip(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: <sip:caller@example.com>;tag=323\n"
    "Max-Forwards: 70\n"
    "Call-ID:  transports.kijh4akdnaqjkwendsasfdj\n"
    "Accept: application/sdp\n"
    "CSeq: 60 OPTIONS\n"
    "Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\n"
    "Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\n"
    "Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\n"
    "Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\n"
    "Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\n"
    "l: 0\n\n"
)

MPART01 = sip(
    b"MESSAGE sip:kumiko@example.org SIP/2.0\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport\n"
    b"Max-Forwards: 70\n"
    b"Route: <sip:127.0.0.1:5080>\n"
    b"Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813g"
    b"vYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=\n"
    b"Contact: <sip:fluffy@127.0.0.1:5070>\n"
    b"To: <sip:kumiko@example.org>\n"
    b"From: <sip:fluffy@example.com>;tag=2fb0dcc9\n"
    b"Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\n"
    b"CSeq: 1 MESSAGE\n"
    b"Content-Transfer-Encoding: binary\n"
    b"Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\n"
    b"Date: Sat, 15 Oct 2005 04:44:56 GMT\n"
    b"User-Agent: SIPimp.org/0.2.5 (curses)\n"
    b"Content-Length: <LEN>\n\n"
    b"--7a9cbec02ceef655\n"
    b"Content-Type: text/plain\n"
    b"Content-Transfer-Encoding: binary\n\n"
    b"Hello\n"
    b"--7a9cbec02ceef655\n"
    b"Content-Type: application/octet-stream\n"
    b"Content-Transfer-Encoding: binary\n\n"
    b"0\x82\x01R\x06\t*\x86H\x86\xf7\r\x01\x07\x02\xa0\x82\x01C\r\r\x00\xff\xfe\n"
    b"--7a9cbec02ceef655--\n"
)

UNREASON = sip(
    "SIP/2.0 200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f"
    "\u043d\u043e\u0441\u0442\u043e \u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440"
    "\u043e\u0441\u0442\u043e\u0435\n"
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\n"
    "Call-ID: unreason.1234ksdfak3j2erwedfsASdf\n"
    "CSeq: 35 INVITE\n"
    "From: sip:user@example.com;tag=11141343\n"
    "To: sip:user@example.edu;tag=2229\n"
    "Content-Length: <LEN>\n"
    "Content-Type: application/sdp\n"
    "Contact: <sip:user@host198.example.com>\n\n" + SDP
)

NOREASON = sip(
    "SIP/2.0 100 \n"
    "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
    "Call-ID: noreason.asndj203insdf99223ndf\n"
    "CSeq: 35 INVITE\n"
    "From: <sip:user@example.com>;tag=39ansfi3\n"
    "To: <sip:user@example.edu>;tag=902jndnke3\n"
    "Content-Length: 0\n"
    "Contact: <sip:user@host105.example.com>\n\n"
)

# RFC 4475 3.2-3.4: well formed, with transaction or application layer trouble.

BADBRANCH = sip(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.org;tag=33242\n"
    "Max-Forwards: 3\n"
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\n"
    "Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n\n"
    "CSeq: 8 OPTIONS\n"
    "l: 0\n\n"
)

INSUF = sip(
    "INVITE sip:user@example.com SIP/2.0\n"
    "CSeq: 193942 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\n"
    "Content-Type: application/sdp\n"
    "l: <LEN>\n\n" + SDP
)

UNKSCM = sip(
    "OPTIONS nobodyknowsthisscheme:totallyopaquecontent SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=384\n"
    "Max-Forwards: 3\n"
    "Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34\n"
    "CSeq: 3923423 OPTIONS\n"
    "Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\n"
    "Content-Length: 0\n\n"
)

NOVELSC = UNKSCM.replace(
    b"nobodyknowsthisscheme:totallyopaquecontent", b"soap.beep://192.0.2.103:3002"
)

UNKSM2 = sip(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: isbn:2983792873\n"
    "From: <http://www.example.com>;tag=3234233\n"
    "Call-ID: unksch.0ha0isndaksdj@192.0.2.1\n"
    "CSeq: 6 REGISTER\n"
    "Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw\n"
    "Max-Forwards: 70\n"
    "Contact: <name:John_Smith>\n"
    "l: 0\n\n"
)

BEXT01 = sip(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:j_user@example.com\n"
    "From: sip:caller@example.net;tag=242etr\n"
    "Max-Forwards: 6\n"
    "Call-ID: bext01.0ha0isndaksdj\n"
    "Require: nothingSupportsThis, nothingSupportsThisEither\n"
    "Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis\n"
    "CSeq: 8 OPTIONS\n"
    "Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw\n"
    "Content-Length: 0\n\n"
)

INVUT = sip(
    "INVITE sip:user@example.com SIP/2.0\n"
    "Contact: <sip:caller@host5.example.net>\n"
    "To: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=8392034\n"
    "Max-Forwards: 70\n"
    "Call-ID: invut.0ha0isndaksdjadsfij34n23d\n"
    "CSeq: 235448 INVITE\n"
    "Via: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw\n"
    "Content-Type: application/unknownformat\n"
    "Content-Length: <LEN>\n\n"
    "<audio>\n"
    ' <pcmu port="443"/>\n'
    "</audio>\n"
)

REGAUT01 = sip(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:j.user@example.com\n"
    "From: sip:j.user@example.com;tag=87321hj23128\n"
    "Max-Forwards: 8\n"
    "Call-ID: regaut01.0ha0isndaksdj\n"
    "CSeq: 9338 REGISTER\n"
    "Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw\n"
    "Authorization: NoOneKnowsThisScheme opaque-data=here\n"
    "Content-Length:0\n\n"
)

BCAST = sip(
    "SIP/2.0 200 OK\n"
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\n"
    "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\n"
    "Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf\n"
    "CSeq: 35 INVITE\n"
    "From: sip:user@example.com;tag=11141343\n"
    "To: sip:user@example.edu;tag=2229\n"
    "Content-Length: <LEN>\n"
    "Content-Type: application/sdp\n"
    "Contact: <sip:user@host28.example.com>\n\n" + SDP
)

ZEROMF = sip(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=3ghsd41\n"
    "Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas\n"
    "CSeq: 39234321 OPTIONS\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i\n"
    "Max-Forwards: 0\n"
    "Content-Length: 0\n\n"
)

CPARAM01 = sip(
    "REGISTER sip:example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\n"
    "Max-Forwards: 70\n"
    "From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe\n"
    "To: sip:watson@example.com\n"
    "Call-ID: cparam01.70710@saturn.example.com\n"
    "CSeq: 2 REGISTER\n"
    "Contact: sip:+19725552222@gw1.example.net;unknownparam\n"
    "l: 0\n\n"
)

CPARAM02 = CPARAM01.replace(
    b"sip:+19725552222@gw1.example.net;unknownparam",
    b"<sip:+19725552222@gw1.example.net;unknownparam>",
)

REGESCRT = sip(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:user@example.com;tag=8\n"
    "Max-Forwards: 70\n"
    "Call-ID: regescrt.k345asrl3fdbv@192.0.2.1\n"
    "CSeq: 14398234 REGISTER\n"
    "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\n"
    "M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>\n"
    "L:0\n\n"
)

SDP01 = sip(
    "INVITE sip:user@example.com SIP/2.0\n"
    "To: sip:j_user@example.com\n"
    "Contact: <sip:caller@host15.example.net>\n"
    "From: sip:caller@example.net;tag=234\n"
    "Max-Forwards: 5\n"
    "Call-ID: sdp01.ndaksdj9342dasdd\n"
    "Accept: text/nobodyKnowsThis\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP 60.3.128.4;branch=z9hG4bKkdjuw\n"
    "Content-Length: <LEN>\n"
    "Content-Type: application/sdp\n\n" + SDP
)

INV2543 = sip(
    "INVITE sip:UserB@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP iftgw.example.com\n"
    "From: <sip:+13035551111@ift.client.example.net;user=phone>\n"
    "Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>\n"
    "To: sip:+16505552222@ss1.example.net;user=phone\n"
    "Call-ID: inv2543.1717@ift.client.example.com\n"
    "CSeq: 56 INVITE\n"
    "Content-Type: application/sdp\n\n" + SDP
)

# RFC 5118: IPv6 ------------------------------------------------------------------


def _ipv6(request_uri: str, method: str = "REGISTER", via: str = "[2001:db8::9:1]") -> bytes:
    return sip(
        f"{method} {request_uri} SIP/2.0\n"
        "To: sip:user@example.com\n"
        "From: sip:user@example.com;tag=81x2\n"
        f"Via: SIP/2.0/UDP {via};branch=z9hG4bKas3-111\n"
        "Call-ID: SSG9559905523997077@hlau_4100\n"
        "Max-Forwards: 70\n"
        'Contact: "Caller" <sip:caller@[2001:db8::1]>\n'
        f"CSeq: 98176 {method}\n"
        "Content-Length: 0\n\n"
    )


IPV6_GOOD = _ipv6("sip:[2001:db8::10]")
PORT_AMBIGUOUS = _ipv6("sip:[2001:db8::10:5070]")
PORT_UNAMBIGUOUS = _ipv6("sip:[2001:db8::10]:5070")
VIA_RECEIVED_BRACKETS = _ipv6(
    "sip:[2001:db8::10]", "BYE", "[2001:db8::9:1]; received=[2001:db8::9:255]"
)
VIA_RECEIVED_BARE = _ipv6("sip:[2001:db8::10]", "BYE", "[2001:db8::9:1]; received=2001:db8::9:255")
IPV4_MAPPED = _ipv6("sip:user@example.com", "INVITE", "[::ffff:192.0.2.10]:19823")
TWO_COLONS = _ipv6("sip:user@[2001:db8::192.0.2.1]", "OPTIONS")

MULT_IP_IN_HEADER = sip(
    "BYE sip:user@host.example.net SIP/2.0\n"
    "Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111\n"
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144\n"
    "Via: SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200\n"
    "Call-ID: 997077@lau_4100\n"
    "Max-Forwards: 70\n"
    "CSeq: 89187 BYE\n"
    "To: sip:user@example.net;tag=9817--94\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Content-Length: 0\n\n"
)

IPV6_IN_SDP = sip(
    "INVITE sip:user@[2001:db8::10] SIP/2.0\n"
    "To: sip:user@[2001:db8::10]\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Via: SIP/2.0/UDP [2001:db8::20];branch=z9hG4bKas3-111\n"
    "Call-ID: SSG9559905523997077@hlau_4100\n"
    'Contact: "Caller" <sip:caller@[2001:db8::20]>\n'
    "CSeq: 8612 INVITE\n"
    "Max-Forwards: 70\n"
    "Content-Type: application/sdp\n"
    "Content-Length: <LEN>\n\n"
    "v=0\n"
    "o=assistant 971731711378798081 0 IN IP6 2001:db8::20\n"
    "s=Live video feed\n"
    "c=IN IP6 2001:db8::20\n"
    "t=0 0\n"
    "m=audio 6000 RTP/AVP 0\n"
    "a=rtpmap:0 PCMU/8000\n"
)

VALID = {
    "wsinv": WSINV,
    "intmeth": INTMETH,
    "esc01": ESC01,
    "escnull": ESCNULL,
    "esc02": ESC02,
    "lwsdisp": LWSDISP,
    "longreq": LONGREQ,
    "dblreq": DBLREQ,
    "semiuri": SEMIURI,
    "transports": TRANSPORTS,
    "mpart01": MPART01,
    "unreason": UNREASON,
    "noreason": NOREASON,
    "badbranch": BADBRANCH,
    "insuf": INSUF,
    "unkscm": UNKSCM,
    "novelsc": NOVELSC,
    "unksm2": UNKSM2,
    "bext01": BEXT01,
    "invut": INVUT,
    "regaut01": REGAUT01,
    "bcast": BCAST,
    "zeromf": ZEROMF,
    "cparam01": CPARAM01,
    "cparam02": CPARAM02,
    "regescrt": REGESCRT,
    "sdp01": SDP01,
    "inv2543": INV2543,
    "ipv6-good": IPV6_GOOD,
    "port-ambiguous": PORT_AMBIGUOUS,
    "port-unambiguous": PORT_UNAMBIGUOUS,
    "via-received-param-with-delim": VIA_RECEIVED_BRACKETS,
    "via-received-param-no-delim": VIA_RECEIVED_BARE,
    "ipv4-mapped": IPV4_MAPPED,
    "ipv6-correct-abnf-2-colons": TWO_COLONS,
    "mult-ip-in-header": MULT_IP_IN_HEADER,
    "ipv6-in-sdp": IPV6_IN_SDP,
}


@pytest.mark.parametrize("name", VALID)
def test_every_valid_torture_message_parses(name: str) -> None:
    parse_message(VALID[name])


def test_wsinv_folding_white_space_compact_forms_and_lists() -> None:
    invite = request(WSINV)
    assert (invite.method, invite.uri) == (
        "INVITE",
        "sip:vivekg@chair-dnrc.example.com;unknownparam",
    )
    assert invite.to_tag == "1918181833n"
    assert invite.from_address.display_name == 'J Rosenberg \\"'
    assert invite.from_tag == "98asjd8"
    assert invite.max_forwards == 68
    assert (invite.cseq.number, invite.cseq.method) == (9, "INVITE")
    assert [(v.transport, v.host, v.branch) for v in invite.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert invite.headers.get("s") == ""
    assert invite.headers.get("newfangledheader") == "newfangled value continued newfangled value"
    assert invite.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    contact = parse_name_address(invite.headers.values("m")[0])
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert invite.content_length == 150 == len(invite.body)
    assert invite.content_type == "application/sdp"


def test_intmeth_unusual_characters() -> None:
    message = request(INTMETH)
    assert message.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert message.cseq.method == message.method
    assert message.branch == "z9hG4bK-.!%66*_+`'~"
    assert message.to_address.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert message.from_tag == "_token~1'+`*%!-."
    assert message.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert message.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff\u5927\u505c\u96fb"


def test_escapes_are_kept_and_percent_is_literal_outside_uris() -> None:
    assert request(ESC01).uri == "sip:sips%3Auser%40example.com@example.net"
    assert request(ESC01).call_id == "esc01.239409asdfakjkn23onasd0-3234"
    esc02 = request(ESC02)
    assert esc02.method == "RE%47IST%45R"
    assert len(esc02.headers.values("Contact")) == 2  # C%6Fntact is another header
    assert esc02.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert request(ESCNULL).headers.values("Contact")[1] == "<sip:%00%00@host5.example.com>"


def test_dblreq_trailing_octets_after_content_length_are_dropped() -> None:
    message = request(DBLREQ)
    assert message.method == "REGISTER"
    assert message.body == b""


def test_longreq_long_values_and_many_vias() -> None:
    message = request(LONGREQ)
    assert len(message.vias) == 34
    assert message.vias[0].host == "sip33.example.com"
    assert message.branch is None
    assert message.from_tag == "12" + "982" * 50 + "424"


def test_other_valid_messages_read_as_the_rfc_says() -> None:
    assert request(SEMIURI).headers.values("Accept")[-1] == "message/sipfrag"
    assert [v.transport for v in request(TRANSPORTS).vias] == [
        "UDP",
        "SCTP",
        "TLS",
        "UNKNOWN",
        "TCP",
    ]
    assert request(LWSDISP).from_address.display_name == "caller"
    assert b"\r\r\x00\xff" in request(MPART01).body
    assert response(UNREASON).reason.startswith("= 2**3 * 5**2 ")
    assert (response(NOREASON).status, response(NOREASON).reason) == (100, "")
    assert parse_uri(request(UNKSCM).uri).scheme == "nobodyknowsthisscheme"
    assert request(UNKSM2).to_address.uri.scheme == "isbn"
    assert request(ZEROMF).max_forwards == 0
    assert parse_name_address(request(CPARAM01).headers.get("Contact") or "").params == {
        "unknownparam": None
    }
    assert request(INV2543).body.startswith(b"v=0") and request(INV2543).content_length is None
    assert request(INSUF).has_fields("Via", "CSeq") and not request(INSUF).has_fields("Call-ID")


def test_rfc5118_ipv6_references() -> None:
    assert parse_uri(request(IPV6_GOOD).uri).host == "2001:db8::10"
    ambiguous = parse_uri(request(PORT_AMBIGUOUS).uri)
    assert (ambiguous.host, ambiguous.port) == ("2001:db8::10:5070", None)
    unambiguous = parse_uri(request(PORT_UNAMBIGUOUS).uri)
    assert (unambiguous.host, unambiguous.port) == ("2001:db8::10", 5070)
    assert request(VIA_RECEIVED_BRACKETS).top_via.params["received"] == "[2001:db8::9:255]"
    assert request(VIA_RECEIVED_BARE).top_via.params["received"] == "2001:db8::9:255"
    assert request(IPV4_MAPPED).sent_by == ("::ffff:192.0.2.10", 19823)
    assert [v.sent_by for v in request(MULT_IP_IN_HEADER).vias] == [
        ("2001:db8::9:1", 6050),
        ("192.0.2.1", None),
        ("2001:db8::9:255", None),
    ]
    assert request(IPV6_IN_SDP).to_address.uri.host == "2001:db8::10"


# Invalid messages: RFC 4475 3.1.2, 3.3.8-9, RFC 5118 4.2 and 4.10 -------------------

_BADINV01 = sip(
    "INVITE sip:user@example.com SIP/2.0\n"
    "To: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=134161461246\n"
    "Max-Forwards: 7\n"
    "Call-ID: badinv01.0ha0isndaksdjasdf3234nas\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.15;;,;,,\n"
    'Contact: "Joe" <sip:joe@example.org>;;;;\n'
    "Content-Length: <LEN>\n"
    "Content-Type: application/sdp\n\n" + SDP
)


def _invite(first_line: str, *headers: str, body: str = SDP, length: str = "<LEN>") -> bytes:
    return sip(
        f"{first_line}\n" + "".join(f"{h}\n" for h in headers) + "To: sip:j.user@example.com\n"
        "From: sip:caller@example.net;tag=93942939o2\n"
        "Call-ID: invalid.0ha0isndaksdjweiafasdk3\n"
        "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\n"
        f"Content-Length: {length}\n\n" + body
    )


_OPTIONS = "OPTIONS sip:user@example.com SIP/2.0"

INVALID = {
    "badinv01": (_BADINV01, "Via"),
    "clerr": (
        _invite("INVITE sip:user@example.com SIP/2.0", "CSeq: 8 INVITE", length="9999"),
        "Content-Length",
    ),
    "ncl": (
        _invite("INVITE sip:user@example.com SIP/2.0", "CSeq: 0 INVITE", length="-999"),
        "Content-Length",
    ),
    "scalar02": (
        _invite(
            "REGISTER sip:example.com SIP/2.0",
            "CSeq: 36893488147419103232 REGISTER",
            "Max-Forwards: 300",
        ),
        "CSeq",
    ),
    "scalar02-max-forwards": (
        _invite("REGISTER sip:example.com SIP/2.0", "CSeq: 1 REGISTER", "Max-Forwards: 300"),
        "Max-Forwards",
    ),
    "scalarlg": (
        sip(
            "SIP/2.0 503 Service Unavailable\n"
            "Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\n"
            "To: <sip:user@example.com>\n"
            "From: <sip:other@example.net>;tag=2easdjfejw\n"
            "CSeq: 9292394834772304023312 OPTIONS\n"
            "Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\n"
            "Retry-After: 949302838503028349304023988\n"
            'Warning: 1812 overture "In Progress"\n'
            "Content-Length: 0\n\n"
        ),
        "CSeq",
    ),
    "quotbal": (
        sip(
            "INVITE sip:user@example.com SIP/2.0\n"
            'To: "Mr. J. User <sip:j.user@example.com>\n'
            "From: sip:caller@example.net;tag=93334\n"
            "Max-Forwards: 10\n"
            "Call-ID: quotbal.aksdj\n"
            "Contact: <sip:caller@host59.example.net>\n"
            "CSeq: 8 INVITE\n"
            "Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\n"
            "Content-Type: application/sdp\n"
            "Content-Length: <LEN>\n\n" + SDP
        ),
        "To",
    ),
    "ltgtruri": (_invite("INVITE <sip:user@example.com> SIP/2.0", "CSeq: 1 INVITE"), "Request-URI"),
    "lwsruri": (
        _invite("INVITE sip:user@example.com; lr SIP/2.0", "CSeq: 2 INVITE"),
        "request line",
    ),
    "lwsstart": (
        _invite("INVITE  sip:user@example.com  SIP/2.0", "CSeq: 3 INVITE"),
        "request line",
    ),
    "trws": (_invite(_OPTIONS + "  ", "CSeq: 238923 OPTIONS", body="", length="0"), "request line"),
    "escruri": (
        _invite(
            "INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0", "CSeq: 4 INVITE"
        ),
        "Request-URI",
    ),
    "baddate": (
        _invite(
            "INVITE sip:user@example.com SIP/2.0",
            "CSeq: 5 INVITE",
            "Date: Fri, 01 Jan 2010 16:00:00 EST",
        ),
        "Date",
    ),
    "regbadct": (
        _invite(
            "REGISTER sip:example.com SIP/2.0",
            "CSeq: 1 REGISTER",
            "Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            body="",
            length="0",
        ),
        "Contact",
    ),
    "badaspec": (
        sip(
            "OPTIONS sip:user@example.org SIP/2.0\n"
            "Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\n"
            "Max-Forwards: 70\n"
            'From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423\n'
            'To: "Watson, Thomas" < sip:t.watson@example.org >\n'
            "Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\n"
            "Accept: application/sdp\n"
            "CSeq: 3923239 OPTIONS\n"
            "l: 0\n\n"
        ),
        "To",
    ),
    "baddn": (
        sip(
            "OPTIONS sip:t.watson@example.org SIP/2.0\n"
            "Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\n"
            "Max-Forwards:      70\n"
            "From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\n"
            "To:      Watson, Thomas <sip:t.watson@example.org>\n"
            "Call-ID: baddn.31415@c.example.com\n"
            "Accept: application/sdp\n"
            "CSeq:    3923239 OPTIONS\n"
            "l: 0\n\n"
        ),
        "From",
    ),
    "badvers": (
        sip(
            "OPTIONS sip:t.watson@example.org SIP/7.0\n"
            "Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\n"
            "Max-Forwards:     70\n"
            "From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\n"
            "To:      T. Watson <sip:t.watson@example.org>\n"
            "Call-ID: badvers.31417@c.example.com\n"
            "CSeq:    1 OPTIONS\n"
            "l: 0\n\n"
        ),
        "version",
    ),
    "mismatch01": (_invite(_OPTIONS, "CSeq: 8 INVITE", body="", length="0"), "CSeq"),
    "mismatch02": (_invite("NEWMETHOD sip:user@example.com SIP/2.0", "CSeq: 8 INVITE"), "CSeq"),
    "bigcode": (
        sip(
            "SIP/2.0 4294967301 better not break the receiver\n"
            "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
            "Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\n"
            "CSeq: 353494 INVITE\n"
            "From: <sip:user@example.com>;tag=39ansfi3\n"
            "To: <sip:user@example.edu>;tag=902jndnke3\n"
            "Content-Length: 0\n"
            "Contact: <sip:user@host105.example.com>\n\n"
        ),
        "status code",
    ),
    "multi01": (
        _invite(
            "INVITE sip:user@company.com SIP/2.0",
            "CSeq: 5 INVITE",
            "Call-ID: multi01.98asdh@192.0.2.2",
            "To: sip:other@example.net",
        ),
        "more than one",
    ),
    "mcl01": (
        sip(
            "OPTIONS sip:user@example.com SIP/2.0\n"
            "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\n"
            "To: sip:user@example.com\n"
            "From: sip:other@example.net;tag=3923942\n"
            "Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\n"
            "CSeq: 15932 OPTIONS\n"
            "Content-Length: 13\n"
            "Max-Forwards: 60\n"
            "Content-Length: 5\n"
            "Content-Type: text/plain\n\n"
            "There's no way to know how many octets are supposed to be here.\n"
        ),
        "more than one Content-Length",
    ),
    "ipv6-bad": (_ipv6("sip:2001:db8::10"), "Request-URI"),
    "ipv6-bug-abnf-3-colons": (_ipv6("sip:user@[2001:db8:::192.0.2.1]", "OPTIONS"), "Request-URI"),
    "ipv6-unclosed": (_ipv6("sip:[2001:db8::10", "OPTIONS"), "Request-URI"),
}


@pytest.mark.parametrize("name", INVALID)
def test_every_invalid_message_is_refused_with_a_reason(name: str) -> None:
    data, blamed = INVALID[name]
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    assert blamed in caught.value.reason
    assert "\r" not in caught.value.reason and "\n" not in caught.value.reason


def test_a_refused_request_keeps_what_is_needed_to_answer_it() -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message(INVALID["lwsstart"][0])
    partial = caught.value.partial
    assert isinstance(partial, SipRequest) and partial.method == "INVITE"
    assert partial.has_fields("Via", "From", "To", "Call-ID", "CSeq")
    with pytest.raises(SipParseError) as version:
        parse_message(INVALID["badvers"][0])
    assert version.value.status == 505


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nVia: x",  # no blank line
        b"INVITE sip:a@b SIP/2.0\r\n folded-first-line\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nNo colon here\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nX: a\rb\r\n\r\n",
        b"SIP/2.0 100 \r\r\n\r\n",  # a CR in the reason phrase (found by fuzzing)
        b"SIP/2.0 99 Too Low\r\n\r\n",
        b"SIP/2.0 700 Too High\r\n\r\n",
        b"SIP/2.0 2OO OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"INVITE sip:a@b:99999 SIP/2.0\r\n\r\n",
        b"INVITE sip:a@b:5060x SIP/2.0\r\n\r\n",
        b"INVITE sip:a@-bad-.com SIP/2.0\r\n\r\n",
        b"INVITE sip:a@256.1.1.1 SIP/2.0\r\n\r\n",
        b"INVITE sip:a%zz@b SIP/2.0\r\n\r\n",
        b"INVITE sip:a@b;;x SIP/2.0\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nCall-ID: has space\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nContact: *, <sip:a@b>\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nRoute: sip:proxy\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nContent-Type: sdp\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP host:port\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nMax-Forwards: " + b"9" * 5000 + b"\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nCSeq: \xd9\xa1 INVITE\r\n\r\n",  # an Arabic-Indic digit
    ],
)
def test_malformed_basics_are_refused(data: bytes) -> None:
    with pytest.raises(SipParseError):
        parse_message(data)


# Round trips, headers, helpers -------------------------------------------------------


@pytest.mark.parametrize("name", VALID)
def test_round_trip_keeps_every_field(name: str) -> None:
    first = parse_message(VALID[name])
    data = first.to_bytes()
    second = parse_message(data)
    assert second == first or (
        # A message without Content-Length (RFC 2543) gets one.
        "Content-Length" not in first.headers and second.body == first.body
    )
    assert second.to_bytes() == data


def test_leading_crlf_keep_alives_are_skipped() -> None:
    assert request(b"\r\n\r\n" + LWSDISP).call_id == "lwsdisp.1234abcd@funky.example.com"


def test_bare_lf_line_ends_are_tolerated() -> None:
    assert request(LWSDISP.replace(b"\r\n", b"\n")).cseq.number == 60


def test_headers_are_case_insensitive_ordered_and_compact_aware() -> None:
    headers = Headers(
        [("v", "SIP/2.0/UDP a"), ("CALL-ID", "x"), ("Via", "SIP/2.0/UDP b, SIP/2.0/UDP c")]
    )
    assert next(iter(headers)) == ("Via", "SIP/2.0/UDP a")
    assert headers.get("i") == headers.get("call-id") == "x"
    assert headers.get_all("VIA") == ["SIP/2.0/UDP a", "SIP/2.0/UDP b, SIP/2.0/UDP c"]
    assert headers.values("v") == ["SIP/2.0/UDP a", "SIP/2.0/UDP b", "SIP/2.0/UDP c"]
    assert "via" in headers and "Route" not in headers
    headers.set("Via", "SIP/2.0/UDP z")
    assert headers.get_all("Via") == ["SIP/2.0/UDP z"] and next(iter(headers))[0] == "Via"
    headers.remove("i")
    assert len(headers) == 1
    assert canonical_name("www-authenticate") == "WWW-Authenticate"
    assert canonical_name("X-Custom") == "X-Custom"
    assert Headers([("Contact", '"a, b" <sip:x@y>, <sip:z@w>')]).values("m") == [
        '"a, b" <sip:x@y>',
        "<sip:z@w>",
    ]


def test_to_bytes_writes_a_true_content_length_and_refuses_line_breaks() -> None:
    message = SipRequest("OPTIONS", "sip:a@b", Headers([("Content-Length", "99")]), b"abc")
    assert b"Content-Length: 3\r\n\r\nabc" in message.to_bytes()
    with pytest.raises(ValueError, match="line break"):
        SipRequest("OPTIONS", "sip:a@b", Headers([("X", "a\r\nInjected: 1")])).to_bytes()


def test_via_and_name_address_fields() -> None:
    via = parse_via("SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKx;rport")
    assert (via.host, via.port, via.branch, via.params["rport"]) == (
        "2001:db8::1",
        5070,
        "z9hG4bKx",
        None,
    )
    assert via.has_rfc3261_branch
    address = parse_name_address("Bob <sip:bob@example.com;transport=udp>;tag=abc")
    assert (address.display_name, address.tag, address.uri.param("transport")) == (
        "Bob",
        "abc",
        "udp",
    )
    assert parse_name_address("sip:bob@example.com;tag=abc").uri.params == ()


# Fuzzing: nothing but SipParseError ---------------------------------------------------

_SPICE = [b"\r\n", b" ", b"\t", b",", b";", b":", b"<", b">", b'"', b"\\", b"%", b"[", b"]"]
_SPICE += [b"@", b"=", b"/", b"\x00", b"\xff", b"\r\n ", b"\r", b"\n", b"0", b"9" * 30, b"?"]


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(list(VALID.values()))))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "random"]))
        if action == "insert":
            data[at:at] = draw(st.sampled_from(_SPICE))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif action == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        else:
            data[at:at] = draw(st.binary(max_size=12))
    return bytes(data)


def _parse_or_refuse(data: bytes) -> None:
    try:
        message = parse_message(data)
    except SipParseError as error:
        assert error.reason
        return
    # What parses serialises, and reads back the same.
    again = parse_message(message.to_bytes())
    assert again.headers == message.headers or "Content-Length" not in message.headers
    assert again.body == message.body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data: bytes) -> None:
    _parse_or_refuse(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_messages())
def test_fuzz_mutated_valid_messages(data: bytes) -> None:
    _parse_or_refuse(data)
