// Script droppers: JScript, VBScript and HTML applications that fetch and run payloads.

rule js_dropper
{
    meta:
        score = 70
        description = "JScript dropper: downloads with an ActiveX HTTP object and runs or saves the payload"
    strings:
        $ax = "ActiveXObject" nocase
        $http1 = "MSXML2.XMLHTTP" nocase
        $http2 = "WinHttp.WinHttpRequest" nocase
        $http3 = "MSXML2.ServerXMLHTTP" nocase
        $shell = "WScript.Shell" nocase
        $stream = "ADODB.Stream" nocase
        $save = "SaveToFile" nocase
        $run = ".Run(" nocase
    condition:
        $ax and any of ($http*) and (($shell and $run) or ($stream and $save))
}

rule vbs_dropper
{
    meta:
        score = 70
        description = "VBScript dropper: downloads with an HTTP object and runs or saves the payload"
    strings:
        $create = "CreateObject" nocase
        $http1 = "MSXML2.XMLHTTP" nocase
        $http2 = "WinHttp.WinHttpRequest" nocase
        $http3 = "Microsoft.XMLHTTP" nocase
        $shell = "WScript.Shell" nocase
        $stream = "ADODB.Stream" nocase
        $save = "SaveToFile" nocase
        $run = ".Run " nocase
        $run2 = ".Run(" nocase
    condition:
        $create and any of ($http*) and (($shell and ($run or $run2)) or ($stream and $save))
}

rule hta_script_launcher
{
    meta:
        score = 65
        description = "HTML application (HTA) that runs commands through a script host"
    strings:
        $hta = "<hta:application" nocase
        $script = "<script" nocase
        $shell = "WScript.Shell" nocase
        $ps = "powershell" nocase
        $cmd = "cmd.exe" nocase
        $mshta = "mshta" nocase
    condition:
        $hta and $script and ($shell or $ps or $cmd or $mshta)
}
